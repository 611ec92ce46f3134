"""Benchmarks: robo-backend side by side with what users would run instead.

`python -m bench` runs them all and writes bench/results/latest.json and the table in
docs/benchmarks.md; see bench/run.py for the options and bench/harness.py for the method.
"""
