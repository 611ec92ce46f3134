"""The embedding model: registry (name → repo), cache (location, inspection, repair, lock),
download (one verified, resumable attempt), prefetch (retries and the fallback chain) and the
status file. Import the submodules directly; nothing heavy is imported here.
"""
