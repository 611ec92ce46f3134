"""Fixtures for doctor: a project, platform facts, and a context builder with safe defaults.

The default environment is offline (HF_HUB_OFFLINE=1) so no test ever contacts the real hub;
tests of the hub check point HF_ENDPOINT at a loopback server or a closed loopback port.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest

from launcher.checks import DoctorContext
from launcher.platform import PlatformFacts
from tests.helpers.doctor import LINUX, Builder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A minimal backend project with an app `up` can find (doctor's app check passes)."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "0"\ndependencies = ["fastapi", "uvicorn"]\n',
        encoding="utf-8",
    )
    (folder / "main.py").write_text(
        "from fastapi import FastAPI\n\napp = FastAPI()\n\n\n"
        '@app.get("/health")\ndef health() -> dict[str, str]:\n    return {"status": "ok"}\n',
        encoding="utf-8",
    )
    return folder


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def build(project: Path, tmp_path: Path) -> Builder:
    """DoctorContext.build for `project`, offline unless `env` says otherwise."""

    def make(
        env: dict[str, str] | None = None,
        facts: PlatformFacts = LINUX,
        flags: dict[str, Any] | None = None,
        **probes: Any,
    ) -> DoctorContext:
        environ = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
        probes.setdefault("legacy_root", tmp_path / "no-legacy-cache")
        return DoctorContext.build(project, flags=flags, env=environ, facts=facts, **probes)

    return make
