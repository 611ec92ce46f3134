"""One module per command; each exposes `command`, a thin function that Typer registers.

A command starts with `startup.start` (logging, the project's secrets, the environment),
resolves settings, calls the core, and renders the result: reports on stdout, progress on
stderr, `--json` documents alone on stdout. Heavy modules are imported inside the function
body so that `robo-backend --help` stays fast.
"""
