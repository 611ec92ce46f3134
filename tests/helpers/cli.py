"""The one way tests run the real CLI: `python -m launcher …` as a subprocess, to its end.

A `CliRunner` runs it in this process's environment (the isolated one of tests/conftest.py:
HOME, caches, state and logs in tmp) plus its own variables and the call's (a None value
removes a variable), without a terminal on stdin, bounded by a timeout, and returns the exit
code, stdout and stderr (`subprocess.CompletedProcess`). The `run_cli` fixture is a runner
with a temp folder of the test's own (TMPDIR, so the machine's fastembed temp cache is never
seen); `.bound(...)` fixes more for a folder of tests (a working folder, variables); `CLI` is
a plain runner for code that has no test (a module-scoped fixture).

A process the test talks to while it runs (signals, a terminal, an `up` that serves) is a
different job: start it from `launcher_argv(...)` with `runner.environ(...)`, or with
tests/helpers/up_run.py's `UpRun`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

TIMEOUT = 120.0  # seconds: every run of the CLI in a test ends well within it
Env = Mapping[str, str | None]
Done = subprocess.CompletedProcess[str]


def launcher_argv(*args: str) -> list[str]:
    """The command line of the CLI as tests run it: this checkout's launcher."""
    return [sys.executable, "-m", "launcher", *args]


def temp_folder(tmp_path: Path) -> Path:
    """The temp folder (TMPDIR) of a test's CLI runs (the `run_cli` fixture's), made once."""
    folder = tmp_path / "cli-tmp"
    folder.mkdir(exist_ok=True)
    return folder


def merged_env(env: Env | None = None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (this process's environment when None) with `env` on top; None removes."""
    merged = dict(os.environ if base is None else base)
    for name, value in (env or {}).items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


@dataclass(frozen=True)
class CliRunner:
    """Runs the real CLI to its end; `env`, `cwd` and `timeout` are its defaults."""

    env: Env = field(default_factory=dict)
    cwd: Path | None = None
    timeout: float = TIMEOUT

    def bound(
        self, *, env: Env | None = None, cwd: Path | None = None, timeout: float | None = None
    ) -> CliRunner:
        """This runner with more variables, another working folder or another timeout."""
        return replace(
            self,
            env={**self.env, **(env or {})},
            cwd=cwd or self.cwd,
            timeout=timeout or self.timeout,
        )

    def environ(
        self, env: Env | None = None, base: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """The environment a run gets: `base` (this process's when None), the runner's
        variables, then `env`."""
        return merged_env({**self.env, **(env or {})}, base)

    def __call__(
        self,
        *args: str,
        env: Env | None = None,
        base: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float | None = None,
        input: str | None = None,  # noqa: A002 - subprocess.run's name
        prefix: Sequence[str] = (),
    ) -> Done:
        """Run `python -m launcher *args` (after `prefix`, e.g. a `setpriv …` wrapper) to its
        end. stdin is empty (no terminal) unless `input` is given."""
        return subprocess.run(
            [*prefix, *launcher_argv(*args)],
            env=self.environ(env, base),
            cwd=cwd or self.cwd,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout or self.timeout,
            check=False,
        )


CLI = CliRunner()
