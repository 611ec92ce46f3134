"""The LauncherError family: every expected failure carries a message, a hint and an exit code.

`cli.py` turns them into two lines (what went wrong, what to do); anything else is a bug.
"""

from __future__ import annotations

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_HANGUP = 129
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class LauncherError(Exception):
    """An expected failure: `message` says what went wrong, `hint` what the user can do."""

    exit_code: int = EXIT_FAILURE

    def __init__(self, message: str, hint: str = "", *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class UsageError(LauncherError):
    """Bad input: a flag, an environment variable, a setting or a project that cannot be used."""

    exit_code = EXIT_USAGE


class ProjectError(UsageError):
    """The backend project is missing or malformed."""


class SettingsError(UsageError):
    """A setting has a value that cannot be used; the message names where it came from."""


class StateFileError(LauncherError):
    """A file the launcher keeps (status file, stamps, locks) cannot be written or taken."""


class VenvError(LauncherError):
    """No usable virtual environment could be found or created."""


class DependencyError(LauncherError):
    """Installing the project's dependencies into the venv failed."""


class ModelError(LauncherError):
    """The embedding model could not be made ready (and degraded mode was not allowed)."""


class ServerError(LauncherError):
    """The backend could not be started, or did not become healthy."""


class PortInUseError(ServerError):
    """The port the backend should listen on is taken."""
