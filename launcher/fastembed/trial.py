"""Load the model with the backend's own fastembed in its venv, as a child; read how it went.

`doctor` runs it to completion; `up` runs it beside the backend once per `load_key`. The child
gets the backend's folder and environment (not isolated: PYTHONPATH and the like count).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from launcher.fastembed.offline import HubAccess

LOAD_SCRIPT = Path(__file__).with_name("load_model.py")
LOAD_TIMEOUT = 120.0  # seconds: an import of fastembed and onnxruntime on a cold, slow disk
RESULT_FILE = "model-load.json"  # in the state folder: the last load that worked
RESULT_SCHEMA = 1
# What decides how fastembed finds and opens a model (values of secret-looking names are not
# kept, only that they are set).
_RELEVANT = ("HF_", "HUGGINGFACE_", "FASTEMBED_", "ONNX", "OMP_", "PYTHON", "VIRTUAL_ENV")
_SECRET = ("TOKEN", "SECRET", "PASSWORD", "KEY")


@dataclass(frozen=True)
class LoadResult:
    """How loading `model` went: `ok`, the fastembed that tried, its error and cause (one line
    each, from the child's own report or its exit)."""

    ok: bool
    model: str
    fastembed: str | None = None
    dim: int | None = None
    error: str = ""
    cause: str = ""
    seconds: float = 0.0

    def reason(self) -> str:
        """The error with fastembed's own first complaint, when it said more than the error."""
        if self.cause and self.cause not in self.error:
            return f"{self.error} ({self.cause})"
        return self.error

    def to_json(self) -> dict[str, Any]:
        return dict(asdict(self), error=self.error or None, cause=self.cause or None)


def loading_env(base: Mapping[str, str], cache_dir: Path, hub: HubAccess) -> dict[str, str]:
    """`base` (the activated venv's environment) with what decides the backend's model load, as
    `up` sets it (up/contract.py `backend_env`): the cache folder and the hub access."""
    env = dict(base)
    env["FASTEMBED_CACHE_PATH"] = str(cache_dir)
    return hub.apply(env)


def load_argv(python: Path, model: str, *, timeout: float = LOAD_TIMEOUT) -> list[str]:
    """The child's command line: it ends by itself when this process is gone or after `timeout`."""
    run = f"import runpy; runpy.run_path({str(LOAD_SCRIPT)!r}, run_name='__main__')"
    return [str(python), "-c", run, model, str(os.getpid()), f"{timeout:g}"]


def read_result(model: str, returncode: int, stdout: str, stderr: str) -> LoadResult:
    """The child's JSON line; without one, its exit and last line of output say what happened."""
    for line in reversed(stdout.splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and "ok" in data:
            return LoadResult(
                ok=bool(data.get("ok")),
                model=model,
                fastembed=data.get("fastembed"),
                dim=data.get("dim") if isinstance(data.get("dim"), int) else None,
                error=_one_line(data.get("error")),
                cause=_one_line(data.get("cause")),
                seconds=float(data.get("seconds") or 0.0),
            )
    if returncode == 124:
        return LoadResult(False, model, error="the load did not finish in time")
    last = next((t for t in reversed((stderr or stdout).splitlines()) if t.strip()), "")
    return LoadResult(
        False, model, error=f"the venv's python exited with code {returncode}: {last}"
    )


def try_load(
    python: Path, model: str, env: Mapping[str, str], cwd: Path, *, timeout: float = LOAD_TIMEOUT
) -> LoadResult:
    """Load `model` in a child of the venv's `python` and wait for it (at most `timeout` s)."""
    from launcher import proc

    result = proc.run(load_argv(python, model, timeout=timeout), env=env, cwd=cwd, timeout=timeout)
    return read_result(model, result.returncode, result.stdout, result.stderr)


def load_key(venv: Path, model: str, model_path: str | None, env: Mapping[str, str]) -> str:
    """What decides whether the load works: the model and its files' folder, the venv's
    fastembed (its dist-info, changed by any reinstall) and the environment fastembed reads."""
    from launcher.fastembed.probe import installed_fastembed

    dist = installed_fastembed(venv)
    try:
        installed = [dist.name, dist.stat().st_mtime_ns] if dist is not None else None
    except OSError:
        installed = None
    relevant = sorted(
        (name, "<set>" if any(s in name.upper() for s in _SECRET) else value)
        for name, value in env.items()
        if name.upper().startswith(_RELEVANT)
    )
    material = json.dumps([model, model_path, str(venv), installed, relevant])
    return hashlib.sha256(material.encode()).hexdigest()


def remembered_ok(state_dir: Path, key: str) -> bool:
    """Did the load work the last time with exactly this key?"""
    from launcher.fileops import read_state_json

    data = read_state_json(state_dir / RESULT_FILE)
    return isinstance(data, dict) and data.get("schema") == RESULT_SCHEMA and data.get("key") == key


def remember_ok(state_dir: Path, key: str, result: LoadResult) -> None:
    from launcher.fileops import atomic_write_text

    document = {"schema": RESULT_SCHEMA, "key": key, "result": result.to_json()}
    with contextlib.suppress(OSError):  # not remembered: the next `up` loads once more
        atomic_write_text(state_dir / RESULT_FILE, json.dumps(document, indent=2) + "\n")


def _one_line(value: Any) -> str:
    text = str(value or "").strip()
    return text.splitlines()[0].strip() if text else ""
