"""One module per command; each exposes `command`, a thin function that Typer registers.

A command calls `startup.start`, resolves settings, calls the core and renders the result
(reports on stdout, progress on stderr). Heavy modules are imported inside the function body.
"""
