"""robo-backend: one command from a fresh checkout to a healthy, supervised FastAPI backend."""

__version__ = "0.1.0"
