"""The environment of a process "inside" a venv, built as a new dict (os.environ untouched)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from launcher.venvs.info import VenvInfo

_SCRUB = {"PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV", "__PYVENV_LAUNCHER__", "CONDA_PREFIX"}


def scrubbed_env(base: Mapping[str, str]) -> dict[str, str]:
    """`base` without the variables that make a Python look elsewhere (PYTHONHOME, …)."""
    return {k: v for k, v in base.items() if k.upper() not in _SCRUB}


def activated_env(venv_info: VenvInfo, base_env: Mapping[str, str]) -> dict[str, str]:
    """The environment of a process "inside" the venv, as a new dict (os.environ untouched).

    VIRTUAL_ENV set, the venv's scripts folder first on PATH (a previously activated venv's
    folder removed from it), PYTHONHOME and macOS's __PYVENV_LAUNCHER__ removed.
    """
    env = dict(base_env)
    previous = next((v for k, v in env.items() if k.upper() == "VIRTUAL_ENV"), None)
    for key in list(env):
        if key.upper() in {"PYTHONHOME", "__PYVENV_LAUNCHER__", "VIRTUAL_ENV"}:
            del env[key]
    env["VIRTUAL_ENV"] = str(venv_info.path)
    path_key = next((k for k in env if k.upper() == "PATH"), "PATH")
    scripts = str(venv_info.scripts_dir)
    parts = [p for p in env.get(path_key, "").split(os.pathsep) if p]
    stale = (
        {os.path.join(previous, "bin"), os.path.join(previous, "Scripts")} if previous else set()
    )
    parts = [p for p in parts if p not in stale and p != scripts]
    env[path_key] = os.pathsep.join([scripts, *parts])
    return env
