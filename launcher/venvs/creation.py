"""Create a venv with the first creator of the chain that works, and delete broken ones.

The chain: `uv venv` → `python -m venv` → `virtualenv` → `python -m venv --without-pip` +
`ensurepip`. An absent tool is skipped (info), a creator that ran and failed is a warning; the
chain is a parameter so tests can make creators fail for real.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from loguru import logger

from launcher import proc
from launcher.errors import VenvError
from launcher.platform import PlatformFacts, find_tool, find_uv
from launcher.venvs.environment import scrubbed_env
from launcher.venvs.info import Interpreter, VenvInfo
from launcher.venvs.inspection import VenvHealth, inspect_venv, last_line
from launcher.venvs.pyvenv import has_pip, venv_python

CREATE_TIMEOUT = 300.0
"""Seconds one creator may take (ensurepip on a slow disk)."""


class _CreatorFailed(Exception):
    """One creator did not produce a usable venv; the message is the short reason."""


class _CreatorSkipped(_CreatorFailed):
    """The creator's tool is not on this machine: skipped, not failed."""


@dataclass(frozen=True)
class _Attempt:
    """A creator that did not give the venv: its label, why, and whether it was only skipped."""

    label: str
    reason: str
    skipped: bool = False

    def brief(self, limit: int = 70) -> str:
        """For `up`'s step line: "uv not found", "python -m venv failed: …"."""
        if self.skipped:
            return f"{self.label} not found"
        text = self.reason if len(self.reason) <= limit else self.reason[: limit - 1] + "…"
        return f"{self.label} failed: {text}"


@dataclass
class _Job:
    target: Path
    python: Interpreter
    facts: PlatformFacts
    cwd: Path
    env: dict[str, str]
    uv: str | None
    timeout: float
    notes: list[str] = field(default_factory=list)


_SUBCOMMAND_FAILED = re.compile(
    r"Command '\[.*?'-m', '([\w.]+)'.*?\]' returned non-zero exit status (-?\d+)"
)


def _failure(result: proc.Result) -> str:
    """`exit 1: <last line>`, with venv's long "Command '[…]' returned…" made readable."""
    text = last_line(result.tail(5)) or "no output"
    text = _SUBCOMMAND_FAILED.sub(lambda m: f"`-m {m.group(1)}` exited with {m.group(2)}", text)
    return f"exit {result.returncode}: {text}"


def _run(job: _Job, argv: Sequence[str | os.PathLike[str]]) -> proc.Result:
    result = proc.run(argv, env=job.env, cwd=job.cwd, timeout=job.timeout)
    if not result.ok:
        raise _CreatorFailed(_failure(result))
    return result


def _create_uv(job: _Job) -> None:
    if not job.uv:
        raise _CreatorSkipped("uv not found on PATH or next to the launcher's Python")
    _run(job, [job.uv, "venv", "--python", job.python.path, str(job.target)])
    job.notes.append("made by uv without pip: dependencies are installed with uv pip")


def _create_venv(job: _Job) -> None:
    _run(job, [job.python.path, "-m", "venv", str(job.target)])


def _create_virtualenv(job: _Job) -> None:
    tool = find_tool("virtualenv", job.facts)
    if not tool:
        raise _CreatorSkipped("virtualenv not found on PATH or next to the launcher's Python")
    _run(job, [tool, "--no-periodic-update", "--python", job.python.path, str(job.target)])


def _create_without_pip(job: _Job) -> None:
    _run(job, [job.python.path, "-m", "venv", "--without-pip", str(job.target)])
    python = venv_python(job.target)
    boot = proc.run(
        [python, "-m", "ensurepip", "--upgrade", "--default-pip"],
        env=job.env,
        cwd=job.cwd,
        timeout=job.timeout,
    )
    if boot.ok:
        return
    reason = last_line(boot.tail(5)) or f"exit {boot.returncode}"
    if job.uv:
        logger.info(f"ensurepip failed in the new venv ({reason}); uv will install into it")
        job.notes.append(f"no pip (ensurepip failed: {reason}): dependencies are installed with uv")
        return
    raise _CreatorFailed(
        f"ensurepip failed ({reason}) and uv is not available to install without pip"
    )


# The creator chain, in the order it is tried: name -> (label for people, creator)
_CREATORS: dict[str, tuple[str, Callable[[_Job], None]]] = {
    "uv": ("uv", _create_uv),
    "venv": ("python -m venv", _create_venv),
    "virtualenv": ("virtualenv", _create_virtualenv),
    "venv-without-pip": ("python -m venv --without-pip + ensurepip", _create_without_pip),
}


def create_venv(
    target: Path,
    python: Interpreter,
    facts: PlatformFacts,
    *,
    creators: Sequence[str] | None = None,
    cwd: Path | None = None,
    timeout: float = CREATE_TIMEOUT,
) -> VenvInfo:
    """Create a venv at `target` (which must not exist) with the first creator that works.

    Each failed creator is logged with its reason and its half-made folder removed; the
    returned `method` names the creator and, briefly, why the earlier ones failed.
    """
    chain = list(creators) if creators is not None else list(_CREATORS)
    unknown = [c for c in chain if c not in _CREATORS]
    if unknown:
        raise ValueError(f"unknown venv creator(s): {unknown}; known: {tuple(_CREATORS)}")
    if os.path.lexists(target):
        raise VenvError(f"{target} already exists", "Remove it first.")
    uv = find_uv(facts)
    env = scrubbed_env(facts.env)
    failures: list[_Attempt] = []
    for name in chain:
        job = _Job(target, python, facts, cwd or target.parent, env, uv, timeout)
        made = _try_creator(name, job, failures)
        if made is None:
            continue
        health, pip = made
        method = f"created with {_CREATORS[name][0]}"
        if failures:
            method += " (" + "; ".join(f.brief() for f in failures) + ")"
        logger.debug(f"venv: {method} at {target} from {python.path} ({python.source})")
        return VenvInfo(
            path=target,
            python=health.python or venv_python(target),
            created=True,
            method=method,
            version=health.version or python.version,
            notes=tuple(job.notes),
            has_pip=pip,
            uv=uv,
        )
    detail = "; ".join(f"{f.label}: {f.reason}" for f in failures) or "no creator was enabled"
    raise VenvError(
        f"could not create a venv at {target} with {python.path} ({detail})",
        "Install uv (pip install uv), or on Debian/Ubuntu the venv module "
        "(sudo apt install python3-venv), or pass --python with another interpreter.",
    )


def _try_creator(name: str, job: _Job, failures: list[_Attempt]) -> tuple[VenvHealth, bool] | None:
    """Run one creator; (the new venv's health, has pip) or None with the attempt recorded."""
    (label, create), target = _CREATORS[name], job.target
    try:
        create(job)
        health = inspect_venv(target, job.facts)
        if not health.valid:
            raise _CreatorFailed(health.problems[0].message)
        pip = has_pip(target)
        if not pip and not job.uv:
            raise _CreatorFailed("the venv has no pip and uv is not available")
    except _CreatorFailed as exc:
        attempt = _Attempt(label, str(exc), isinstance(exc, _CreatorSkipped))
        if attempt.skipped:
            logger.info(f"venv: {label} skipped: {attempt.reason}")
        else:
            logger.warning(f"venv: creating {target.name} with {label} failed: {attempt.reason}")
        failures.append(attempt)
        if os.path.lexists(target):  # remove what the creator half-made
            shutil.rmtree(target, ignore_errors=True)
        return None
    return health, pip


def remove_venv(path: Path, attempts: int = 5) -> None:
    """Delete a broken venv; retries briefly for Windows file locks (antivirus).

    Refuses anything without a pyvenv.cfg, so a mistyped venv setting never deletes a project.
    """
    if not (path / "pyvenv.cfg").is_file():
        raise VenvError(f"refusing to delete {path}: it has no pyvenv.cfg", "Delete it yourself.")
    delay = 0.2
    for attempt in range(1, attempts + 1):
        try:
            shutil.rmtree(path)
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if attempt == attempts:
                raise VenvError(
                    f"could not delete the broken venv {path}: {exc}",
                    "Close programs that use it (editors, terminals, antivirus scans), delete "
                    "it yourself, then run the command again.",
                ) from None
            logger.debug(f"delete {path} failed ({exc}); retrying in {delay:.1f} s")
            time.sleep(delay)
            delay *= 2
