"""serve()'s restart event: the tree is stopped and RESTART returned, so the caller starts the
backend again (onto a model that arrived in the background); a stop signal that comes during
that stop wins with its own exit code."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from pathlib import Path

import psutil
import pytest

from launcher.server.port import pick_free_port
from launcher.server.supervise import RESTART, ServeEvents, ServeTarget, serve
from tests.helpers.serve_driver import uvicorn_argv
from tests.processes import alive, kill_all

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signal paths")


def _target(port: int) -> ServeTarget:
    url = f"http://127.0.0.1:{port}"
    return ServeTarget(url, url + "/health", 30, bind=("127.0.0.1", port))


def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def test_a_restart_stops_the_tree_and_a_second_serve_starts_a_new_one(tmp_path: Path) -> None:
    port = pick_free_port("127.0.0.1")
    restart = threading.Event()
    seen: dict[str, list[psutil.Process]] = {}
    stopping: list[str] = []

    def first_ready(url: str, pid: int) -> None:
        seen["first"] = _tree(pid)
        restart.set()  # the model arrived: start again

    def second_ready(url: str, pid: int) -> None:
        seen["second"] = _tree(pid)
        os.kill(os.getpid(), signal.SIGINT)  # then Ctrl-C

    try:
        code = serve(
            uvicorn_argv(port),
            env=dict(os.environ),
            cwd=tmp_path,
            target=_target(port),
            events=ServeEvents(ready=first_ready, stopping=lambda pid, why: stopping.append(why)),
            restart=restart,
        )
        assert code == RESTART
        assert stopping == ["restart"]
        assert alive(seen["first"]) == [], "the first backend's tree must be gone"
        again = serve(
            uvicorn_argv(port),
            env=dict(os.environ),
            cwd=tmp_path,
            target=_target(port),
            events=ServeEvents(ready=second_ready),
        )
        assert again == 130
        assert seen["second"][0].pid != seen["first"][0].pid
        assert alive(seen["second"]) == []
    finally:
        kill_all([p for tree in seen.values() for p in tree])


def test_ctrl_c_during_the_restart_wins_with_130(tmp_path: Path) -> None:
    port = pick_free_port("127.0.0.1")
    restart = threading.Event()
    trees: list[psutil.Process] = []

    def ready(url: str, pid: int) -> None:
        trees.extend(_tree(pid))
        restart.set()

    def stopping(pid: int, why: str) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the tree is being stopped

    try:
        code = serve(
            uvicorn_argv(port),
            env=dict(os.environ),
            cwd=tmp_path,
            target=_target(port),
            events=ServeEvents(ready=ready, stopping=stopping),
            restart=restart,
        )
        assert code == 130
        assert alive(trees) == []
    finally:
        kill_all(trees)


def test_a_restart_asked_before_the_backend_is_ready_stops_it_too(tmp_path: Path) -> None:
    port = pick_free_port("127.0.0.1")
    restart = threading.Event()
    restart.set()
    started: list[int] = []
    code = serve(
        uvicorn_argv(port),
        env=dict(os.environ, HEALTH_NEVER="1"),
        cwd=tmp_path,
        target=_target(port),
        events=ServeEvents(
            ready=lambda url, pid: pytest.fail("must not be ready"), started=started.append
        ),
        restart=restart,
    )
    assert code == RESTART
    assert started
    with contextlib.suppress(psutil.NoSuchProcess):
        assert psutil.Process(started[0]).status() == psutil.STATUS_ZOMBIE
