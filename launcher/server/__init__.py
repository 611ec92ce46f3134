"""The backend server: run it, supervise it, and know whether it runs.

Modules: `port` (port probe), `tree` (stop signals, stopping a tree, `kill_tree`), `guard` and
`watchdog` (the tree dies with the launcher), `health` (readiness, the health route found),
`supervise` (`serve()`), `claim` (one project, one running `up`), `runfile` (which launcher
runs the project's backend), `report` (what `status` says). Callers import the module they
need: a warm `up` starts its backend early (launcher/up/early.py) through `port`, `guard`,
`claim` and `runfile` alone, before any of the others (and logging) is loaded. The `up` flow
renders what serve() reports (`launcher/up/view.py`).
"""
