"""One module per command; each exposes `command`, a thin function that Typer registers.

Commands resolve settings, call the core, and render a result. They import heavy modules
inside the function body so that `robo-backend --help` stays fast.
"""
