"""The one seam for short-lived subprocesses: argv lists only (never a shell), explicit env.

Long-running children (the backend server) are started by `server.py`, which builds on
`child_env` here for its environment.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from loguru import logger


@dataclass(frozen=True)
class Result:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def tail(self, lines: int = 20) -> str:
        """The last lines of output, for error messages."""
        text = (self.stdout + ("\n" if self.stdout and self.stderr else "") + self.stderr).strip()
        return "\n".join(text.splitlines()[-lines:])


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float | None = None,
) -> Result:
    """Run argv to completion and capture its output; a missing program gives returncode 127.

    A timeout kills the process and gives returncode 124 with a note in stderr.
    """
    args = [os.fspath(a) for a in argv]
    logger.debug(f"run: {args}")
    try:
        done = subprocess.run(
            args,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            timeout=timeout,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except FileNotFoundError as exc:
        return Result(args, 127, "", f"{exc.strerror}: {args[0]}")
    except PermissionError as exc:
        return Result(args, 126, "", f"{exc.strerror}: {args[0]}")
    except subprocess.TimeoutExpired as exc:
        out = (
            exc.stdout.decode(errors="replace")
            if isinstance(exc.stdout, bytes)
            else (exc.stdout or "")
        )
        err = (
            exc.stderr.decode(errors="replace")
            if isinstance(exc.stderr, bytes)
            else (exc.stderr or "")
        )
        return Result(args, 124, out, err + f"\ntimed out after {timeout} s")
    return Result(args, done.returncode, done.stdout or "", done.stderr or "")


def child_env(
    base: Mapping[str, str] | None = None,
    *,
    set_vars: Mapping[str, str] | None = None,
    unset: Sequence[str] = (),
    path_prepend: Sequence[Path] = (),
) -> dict[str, str]:
    """A new environment dict built from `base` (never mutates os.environ)."""
    env = dict(os.environ if base is None else base)
    for name in unset:
        env.pop(name, None)
    env.update(set_vars or {})
    if path_prepend:
        path_key = next((k for k in env if k.upper() == "PATH"), "PATH")
        parts = [os.fspath(p) for p in path_prepend]
        existing = env.get(path_key, "")
        env[path_key] = os.pathsep.join(parts + ([existing] if existing else []))
    return env
