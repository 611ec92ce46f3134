"""Every test isolated from the machine (caches, logs and config in tmp), the slow e2e tests
scheduled first, and the `run_cli` fixture (the real CLI as a subprocess)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.cli import CliRunner, temp_folder

pytest_plugins = ["tests.fakehub.fixtures"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow end-to-end tests first (in their own order): in parallel (pytest-xdist) the
    long ones start at once and the short ones fill in around them, instead of a long one
    ending the run alone."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is None)


@pytest.fixture(autouse=True)
def isolation(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("ROBO_BACKEND_LOG_DIR", str(home / "logs"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    for name in (
        "FASTEMBED_CACHE_PATH",
        "HF_ENDPOINT",
        "HF_TOKEN",
        "HF_HUB_OFFLINE",
        "HF_HOME",
        "ROBO_BACKEND_DEBUG",
        "VIRTUAL_ENV",
        "FORCE_COLOR",
    ):
        monkeypatch.delenv(name, raising=False)
    for name in list(__import__("os").environ):
        if name.startswith("ROBO_BACKEND_") and name != "ROBO_BACKEND_LOG_DIR":
            monkeypatch.delenv(name, raising=False)
    yield home


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A minimal backend project folder (a pyproject.toml with no dependencies)."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "0"\ndependencies = []\n', encoding="utf-8"
    )
    return folder


@pytest.fixture
def run_cli(tmp_path: Path) -> CliRunner:
    """The real CLI as a subprocess (tests/helpers/cli.py) in this test's isolated environment,
    with a temp folder of its own (TMPDIR)."""
    return CliRunner(env={"TMPDIR": str(temp_folder(tmp_path))})
