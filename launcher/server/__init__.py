"""The backend server: run it, supervise it, and know whether it runs.

Import the module you need: an early start (up/early.py) loads only port, guard, claim, runfile.
"""
