"""The user's shell: which one it is, the activation text for it, how to launch inside a venv."""
