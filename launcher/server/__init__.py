"""The backend server: run it, supervise it, and know whether it runs.

Callers import the module they need: a warm `up` starts its backend early (launcher/up/early.py)
through `port`, `guard`, `claim` and `runfile` alone, before any of the others is loaded.
"""
