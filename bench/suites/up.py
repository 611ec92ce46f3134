"""2. Warm `up` to ready (placeholder until launcher.venvs lands)."""
