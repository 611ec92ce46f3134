"""The embedding model: what to fetch, where the cache is, its state, how to fetch it.

Import the submodules directly; nothing here reaches settings or the console.
"""
