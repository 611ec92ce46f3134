"""The embedding model: what to fetch, where the cache is, what state it is in, how to fetch it.

Modules, one job each: `registry` (names → repos, the step's defaults), `location` (where the
cache is), `layout` (folder naming, snapshot paths, placing a verified download), `stamp` (the
verification stamp), `provenance` (where a cached model came from), `integrity` (hashes, the
ONNX check), `inspection` (a model's state), `repair`, `lock`, `failures` (classification of
download errors), `hub` (HTTP client and model info), `space` (free space), `download` (one
verified, resumable attempt), `attempts` (the retry loop), `budget` (the step's budget),
`options`, `outcome` (attempts and result), `prefetch` (the fallback chain), `reporting` (the
progress protocol the UI implements) and `status` (the status file). Import the submodules
directly; nothing heavy is imported here. This package imports neither settings nor the console.
"""
