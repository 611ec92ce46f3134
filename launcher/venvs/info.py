"""The results of venv work: the interpreter that makes a venv, and the venv `up` runs in."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Interpreter:
    """A Python that can create venvs: its real path, version, and how it was found."""

    path: str
    version: str
    source: str


@dataclass(frozen=True)
class VenvInfo:
    """The venv `up` runs in: `method` for `up`'s step line ("reused .venv", "created with uv"),
    `has_pip`/`uv` for the installer, `foreign` the other OS's venv left alone (`.venv` when
    `.venv-wsl` is used)."""

    path: Path
    python: Path
    created: bool
    method: str
    version: str
    notes: tuple[str, ...] = ()
    has_pip: bool = False
    uv: str | None = None
    foreign: Path | None = None

    @property
    def scripts_dir(self) -> Path:
        return self.python.parent
