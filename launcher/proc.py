"""The one seam for child processes: argv lists only (never a shell), explicit env.

`run` runs a short-lived command to completion and captures its output; `spawn` starts the
long-lived backend with its output piped, in its own session/process group, with an optional
`preexec` hook (the parent-death signal of `launcher/server/guard.py`).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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
    quiet: bool = False,
) -> Result:
    """Run argv to completion and capture its output; a missing program gives returncode 127.

    A timeout kills the process and gives returncode 124 with a note in stderr. `quiet`: not
    logged (logging is not wired yet: the entry point's early work, up/early.py).
    """
    args = [os.fspath(a) for a in argv]
    if not quiet:
        _debug(f"run: {args}")
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
    except subprocess.TimeoutExpired as exc:  # its output may be bytes even in text mode
        out, err = (
            b.decode(errors="replace") if isinstance(b, bytes) else b or ""
            for b in (exc.stdout, exc.stderr)
        )
        return Result(args, 124, out, err + f"\ntimed out after {timeout} s")
    return Result(args, done.returncode, done.stdout or "", done.stderr or "")


def spawn(
    argv: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str],
    cwd: Path,
    windows: bool,
    preexec: Callable[[], None] | None = None,
    stdin_pipe: bool = False,
    output: bool = True,
    quiet: bool = False,
) -> subprocess.Popen[bytes]:
    """Start a long-lived child in its own process group (session on POSIX); OSError propagates.

    `output`: stdout+stderr piped together (else discarded); `stdin_pipe`: the caller writes its
    stdin (else closed). PYTHONUNBUFFERED and PYTHONIOENCODING=utf-8 unless `env` sets them.
    """
    args = [os.fspath(a) for a in argv]
    child_env = dict(env)
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    child_env.setdefault("PYTHONIOENCODING", "utf-8")
    options: dict[str, Any] = {}
    if windows:
        options["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200)
    else:
        options["start_new_session"] = True
        if preexec is not None:
            options["preexec_fn"] = preexec
    if not quiet:  # `quiet`: logging is not wired yet (an early start, up/early.py)
        _debug(f"spawn: {args} in {cwd}")
    return subprocess.Popen(
        args,
        env=child_env,
        cwd=cwd,
        stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
        stdout=subprocess.PIPE if output else subprocess.DEVNULL,
        stderr=subprocess.STDOUT if output else subprocess.DEVNULL,
        **options,
    )


def _debug(message: str) -> None:
    from loguru import logger  # imported on use: an early start spawns before logging exists

    logger.debug(message)
