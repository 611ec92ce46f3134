"""A package index that accepts connections and never answers, a full disk and an offline uv:
the install says what it waits on while it waits, gives up after `install_timeout` in one line
with a hint, and every hint says what is true (the network, the disk), not "fix your
dependencies". Real uv, a real loopback server that never answers."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from launcher.deps import sync_dependencies
from launcher.deps.sources import find_source
from launcher.deps.sync import _hint
from launcher.errors import DependencyError
from launcher.settings import resolve_settings
from tests.deps.test_deps import write_project

TIMEOUT = 4.0  # the install_timeout of these tests: the watch speaks every second


@pytest.fixture
def silent_index() -> Iterator[str]:
    """An HTTP "index" on loopback that accepts every connection and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/simple"
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    server.close()


def test_a_silent_index_is_named_while_waiting_and_the_install_gives_up_in_time(
    tmp_path: Path,
    venv_python: Path,
    silent_index: str,
    log_messages: list[str],
) -> None:
    project = write_project(tmp_path / "app", ["tinydep==1.0"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
    env.update(UV_INDEX_URL=silent_index, UV_CACHE_DIR=str(tmp_path / "uv-cache"))

    with pytest.raises(DependencyError) as caught:
        sync_dependencies(
            project, venv_python, "auto", project / ".robo-backend", env, timeout=TIMEOUT
        )

    error = caught.value
    assert error.exit_code == 1
    assert error.message == (
        f"installing dependencies with uv gave up after {TIMEOUT:g} s (install_timeout); "
        f"waiting for the package index {silent_index}"
    )
    assert "install_timeout" in error.hint and "UV_INDEX_URL" in error.hint
    assert "[project].dependencies" not in error.hint
    waiting = [m for m in log_messages if "still installing with uv" in m]
    assert waiting, log_messages
    assert f"waiting for the package index {silent_index} (" in waiting[0]
    assert not (project / ".robo-backend" / "deps-stamp.json").exists()


def test_install_timeout_is_a_setting(tmp_path: Path) -> None:
    project = write_project(tmp_path / "app", [])
    assert resolve_settings(project, {}, {}).install_timeout == 600.0
    moved = resolve_settings(project, {}, {"ROBO_BACKEND_INSTALL_TIMEOUT": "30"})
    assert moved.install_timeout == 30.0 and moved.origin("install_timeout").detail.endswith(
        "TIMEOUT"
    )


@pytest.mark.parametrize(
    ("said", "truth"),
    [
        ("error: failed to write to file: No space left on device (os error 28)", "disk is full"),
        ("ERROR: Could not install packages due to an OSError: [Errno 28] No space left", "disk"),
        (
            "error: No solution found when resolving dependencies\n  cause: Because tinydep was "
            "not found in the cache ...\nhint: Packages were unavailable because the network "
            "was disabled.",
            "unset UV_OFFLINE",
        ),
    ],
)
def test_the_hint_after_a_full_disk_or_an_offline_installer_says_so(
    tmp_path: Path, said: str, truth: str
) -> None:
    project = write_project(tmp_path / "app", ["tinydep==1.0"])
    hint = _hint(said, find_source(project, uv=True), tmp_path / "venv")
    assert truth in hint
    assert not hint.startswith("Read the installer output")
