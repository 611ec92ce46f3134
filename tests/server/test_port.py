"""The port probe: a taken port names the process holding it; free ports pass."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from launcher.errors import PortInUseError, SettingsError
from launcher.server.port import check_port, pick_free_port, port_holder


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port this test process listens on, like a forgotten dev server would."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_port_in_use_names_this_process(held_port: int) -> None:
    with pytest.raises(PortInUseError) as caught:
        check_port("127.0.0.1", held_port)
    error = caught.value
    assert error.exit_code == 1
    assert f"port {held_port} on 127.0.0.1 is already in use by pid {os.getpid()}" in error.message
    assert "python" in error.message  # the holder's command line
    assert "--port 0" in error.hint
    assert f"stop pid {os.getpid()}" in error.hint


def test_port_holder_describes_the_listener(held_port: int) -> None:
    holder = port_holder("127.0.0.1", held_port)
    assert holder is not None
    assert holder.startswith(f"pid {os.getpid()} (")


def test_wildcard_host_sees_a_loopback_listener(held_port: int) -> None:
    with pytest.raises(PortInUseError) as caught:
        check_port("0.0.0.0", held_port)
    assert f"pid {os.getpid()}" in caught.value.message


def test_free_port_passes_and_nobody_holds_it() -> None:
    port = pick_free_port("127.0.0.1")
    check_port("127.0.0.1", port)
    assert port_holder("127.0.0.1", port) is None
    # the port picked is really usable
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_port_zero_is_never_in_use() -> None:
    check_port("127.0.0.1", 0)


def test_host_that_is_not_ours_is_a_usage_error() -> None:
    # 192.0.2.1 is TEST-NET-1: never an address of this machine (no traffic is sent).
    with pytest.raises(SettingsError) as caught:
        check_port("192.0.2.1", 8000)
    assert "not an address of this machine" in caught.value.message


def test_health_probe_of_a_wildcard_bind_goes_to_loopback() -> None:
    """--host 0.0.0.0 binds everything, but Windows cannot connect to 0.0.0.0: poll loopback."""
    from launcher.server.health import probe_url

    assert probe_url("http://0.0.0.0:8000/health") == "http://127.0.0.1:8000/health"
    assert probe_url("http://[::]:8000/health") == "http://[::1]:8000/health"
    assert probe_url("http://127.0.0.1:8000/health") == "http://127.0.0.1:8000/health"


def test_port_zero_on_a_host_that_is_not_ours_is_the_same_usage_error() -> None:
    with pytest.raises(SettingsError) as caught:
        pick_free_port("192.0.2.1")  # binding fails locally (EADDRNOTAVAIL); nothing is sent
    assert "192.0.2.1 is not an address of this machine" in caught.value.message


@pytest.mark.parametrize("port", ["0", "8000"])
def test_up_on_a_host_that_is_not_ours_exits_2_whatever_the_port(tmp_path: Path, port: str) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.py").write_text("from fastapi import FastAPI\napp = FastAPI()\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ROBO_BACKEND_EARLY_START": "0"}

    done = subprocess.run(
        [sys.executable, "-m", "launcher", "up", "-p", str(project)]
        + ["--host", "192.0.2.1", "--port", port],
        capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip

    assert done.returncode == 2, done.stderr
    assert "192.0.2.1 is not an address of this machine" in done.stderr
    assert "internal error" not in done.stderr
    assert not (project / ".venv").exists()
