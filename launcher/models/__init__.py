"""The embedding model: what to fetch, where the cache is, what state it is in, how to fetch it.

Import the submodules directly; nothing heavy is imported here, and this package imports neither
settings nor the console.
"""
