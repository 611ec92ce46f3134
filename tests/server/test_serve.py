"""serve(): a real uvicorn child, the health gate, stopping the whole tree, exit codes.

Signal paths are exercised for real: a driver process (driver.py) calls serve() the way `up`
does, and the test sends SIGINT/SIGTERM to that driver, then uses psutil to check that no
process of the tree survived.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from launcher.errors import ServerError
from launcher.server.port import check_port, pick_free_port
from launcher.server.supervise import ServeEvents, ServeTarget, serve
from launcher.ui import console
from launcher.up.view import ConsoleEvents
from tests.helpers.serve_driver import Driver, config, uvicorn_argv
from tests.helpers.serve_driver import driver as driver  # the fixture
from tests.processes import alive, kill_all

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signal paths")

HERE = Path(__file__).parent
REPO = HERE.parent.parent


def local_target(port: int, ready_timeout: float = 30, *, bind: bool = False) -> ServeTarget:
    """A backend on 127.0.0.1:`port` with its health route at /health."""
    url = f"http://127.0.0.1:{port}"
    return ServeTarget(
        url, f"{url}/health", ready_timeout, bind=("127.0.0.1", port) if bind else None
    )


@pytest.mark.parametrize(
    ("sig", "extra", "code"),
    [
        (signal.SIGINT, (), 130),
        (signal.SIGTERM, (), 143),
        (signal.SIGHUP, (), 129),
        (signal.SIGINT, ("--reload",), 130),
    ],
    ids=["sigint", "sigterm", "sighup", "sigint-reload"],
)
def test_signal_stops_the_whole_tree_with_the_signal_exit_code(
    driver: type[Driver], tmp_path: Path, sig: signal.Signals, extra: tuple[str, ...], code: int
) -> None:
    port = pick_free_port("127.0.0.1")
    run = driver(config(tmp_path, port, *extra))
    run.expect("READY")
    tree = run.remember_tree()
    # driver + uvicorn (+ with --reload: the reloader's worker)
    assert len(tree) >= (3 if extra else 2), [p.cmdline() for p in tree]
    run.popen.send_signal(sig)
    assert run.popen.wait(timeout=20) == code
    assert run.expect("EXIT") == f"EXIT {code}"
    deadline = time.monotonic() + 5  # the driver reaped its child; let the kernel settle
    while alive(tree) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive(tree) == [], [p.pid for p in alive(tree)]
    err = run.stderr()
    assert "stopping the backend" in err
    assert "tiny app: startup" in err  # the backend's own log streamed through


def test_ready_only_after_health_answered_200(tmp_path: Path) -> None:
    """on_ready fires once, after /health turned from 503 to 200; SIGINT then stops it."""
    port = pick_free_port("127.0.0.1")
    log = tmp_path / "health.log"
    env = dict(os.environ, HEALTH_LOG=str(log), HEALTHY_AFTER="3")
    calls: list[tuple[str, int, list[str]]] = []

    def on_ready(url: str, pid: int) -> None:
        calls.append((url, pid, log.read_text().split()))
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C as soon as it is ready

    previous = signal.getsignal(signal.SIGINT)
    code = serve(
        uvicorn_argv(port),
        env=env,
        cwd=tmp_path,
        target=local_target(port),
        events=ServeEvents(ready=on_ready),
    )
    assert code == 130
    assert len(calls) == 1
    url, pid, seen = calls[0]
    assert url == f"http://127.0.0.1:{port}"
    assert seen == ["503", "503", "503", "200"]
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert signal.getsignal(signal.SIGINT) is previous  # our handler is gone again


def test_child_exiting_by_itself_returns_its_code_and_shows_its_last_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    console.reset_console()
    script = "import sys\nfor i in range(50):\n    print(f'line {i}')\nsys.exit(3)\n"
    called: list[int] = []
    code = serve(
        [sys.executable, "-c", script],
        env=dict(os.environ),
        cwd=tmp_path,
        target=local_target(9),
        events=ConsoleEvents(also_ready=[lambda url, pid: called.append(pid)]).events(),
        log_tail=5,
    )
    assert code == 3
    assert called == []
    err = capsys.readouterr().err
    assert "the backend exited with code 3" in err
    summary = err.split("the backend exited with code 3", 1)[1]
    assert "its last 5 lines" in summary
    assert [line.strip() for line in summary.splitlines()[2:]] == [
        f"line {i}" for i in range(45, 50)
    ]


def test_child_killed_by_a_signal_reports_128_plus_n(tmp_path: Path) -> None:
    script = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"
    code = serve(
        [sys.executable, "-c", script],
        env=dict(os.environ),
        cwd=tmp_path,
        target=local_target(9),
        events=ServeEvents(ready=lambda url, pid: None),
    )
    assert code == 128 + signal.SIGKILL


GRANDPARENT = textwrap.dedent(
    """
    import subprocess, sys, time
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    same_group = subprocess.Popen(sleeper)
    own_session = subprocess.Popen(sleeper, start_new_session=True)
    print(f"CHILDREN {same_group.pid} {own_session.pid}", flush=True)
    print("loading a very slow model...", flush=True)
    time.sleep(120)
    """
)


def test_not_healthy_in_time_raises_and_kills_the_tree(tmp_path: Path) -> None:
    """Never healthy: ServerError with the last lines; the child, a grandchild in its group
    and one that escaped into its own session are all gone."""
    port = pick_free_port("127.0.0.1")
    with pytest.raises(ServerError) as caught:
        serve(
            [sys.executable, "-c", GRANDPARENT],
            env=dict(os.environ),
            cwd=tmp_path,
            target=local_target(port, 2),
            events=ServeEvents(ready=lambda url, pid: pytest.fail("must not be ready")),
        )
    error = caught.value
    assert error.exit_code == 1
    assert "did not answer 200" in error.message
    assert "loading a very slow model..." in error.message
    assert "--ready-timeout" in error.hint
    match = re.search(r"CHILDREN (\d+) (\d+)", error.message)
    assert match, error.message
    grandchildren = []
    for pid in map(int, match.groups()):
        try:
            grandchildren.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    try:
        deadline = time.monotonic() + 5
        while alive(grandchildren) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert alive(grandchildren) == []
    finally:
        kill_all(grandchildren)


def test_uvicorn_that_never_gets_healthy_is_stopped(tmp_path: Path) -> None:
    port = pick_free_port("127.0.0.1")
    env = dict(os.environ, HEALTH_NEVER="1")
    with pytest.raises(ServerError) as caught:
        serve(
            uvicorn_argv(port),
            env=env,
            cwd=tmp_path,
            target=local_target(port, 3),
            events=ServeEvents(ready=lambda url, pid: pytest.fail("must not be ready")),
        )
    assert "503" in caught.value.message  # uvicorn's access log lines are in the tail
    check_port("127.0.0.1", port)  # free again: the next `up` on this port can start


def test_missing_interpreter_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ServerError) as caught:
        serve(
            [str(tmp_path / "no-venv" / "bin" / "python"), "-m", "uvicorn"],
            env=dict(os.environ),
            cwd=tmp_path,
            target=local_target(9, 5),
            events=ServeEvents(ready=lambda url, pid: None),
        )
    assert "could not start the backend" in caught.value.message
    assert "venv" in caught.value.hint


def test_port_taken_after_the_preflight_is_named_like_the_preflight(tmp_path: Path) -> None:
    """Two `up` on one port at once: both pass the pre-flight, the second uvicorn cannot bind.
    That is the pre-flight's error (holder named, hint, exit 1), not a backend crash."""
    import socket

    from launcher.errors import PortInUseError

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortInUseError) as caught:
            serve(
                uvicorn_argv(port),
                env=dict(os.environ),
                cwd=tmp_path,
                target=local_target(port, bind=True),
                events=ServeEvents(ready=lambda url, pid: pytest.fail("must not be ready")),
            )
    error = caught.value
    assert error.exit_code == 1
    assert f"port {port} on 127.0.0.1 is already in use by pid {os.getpid()}" in error.message
    assert "--port 0" in error.hint


def test_a_foreign_server_answering_health_is_not_our_backend_ready(tmp_path: Path) -> None:
    """Another server (another `up`'s backend) already listens on the port and answers 200 on
    /health while our uvicorn still imports: that answer is not "ready" for us. Our uvicorn
    then fails to bind, which is the port-in-use error naming the other, not a crash (exit 3)."""
    import subprocess

    from launcher.errors import PortInUseError

    port = pick_free_port("127.0.0.1")
    foreign = subprocess.Popen(
        uvicorn_argv(port), env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        assert foreign.stdout is not None
        for _ in range(100):  # bounded: uvicorn says it runs within a few lines
            if b"Uvicorn running" in foreign.stdout.readline():
                break
        else:
            pytest.fail("the foreign server did not start")
        readies: list[int] = []
        with pytest.raises(PortInUseError) as caught:
            serve(
                uvicorn_argv(port),
                env=dict(os.environ),
                cwd=tmp_path,
                target=local_target(port, bind=True),
                events=ServeEvents(ready=lambda url, pid: readies.append(pid)),
            )
        assert readies == [], "a foreign server's answer was taken for our backend's"
        assert f"already in use by pid {foreign.pid}" in caught.value.message
        assert foreign.poll() is None  # the other server is left alone
    finally:
        kill_all([psutil.Process(foreign.pid)] if foreign.poll() is None else [])
        foreign.wait(timeout=10)


def test_a_closed_console_pipe_stops_the_tree_quietly_with_129(tmp_path: Path) -> None:
    """The launcher's stderr is a pipe whose reader goes away (`up 2>&1 | head`, a dead IDE
    console): the tree is stopped, exit 129, and nothing is left running."""
    import subprocess

    port = pick_free_port("127.0.0.1")
    settings = config(tmp_path, port)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    run = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("driver.py")), json.dumps(settings)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=tmp_path,
    )
    tree: list[psutil.Process] = []
    try:
        assert run.stdout is not None and run.stderr is not None
        line = run.stdout.readline().decode()
        assert line.startswith("READY"), line
        root = psutil.Process(run.pid)
        tree = [root, *root.children(recursive=True)]
        run.stderr.close()  # the console's reader is gone
        run.stdout.close()
        assert run.wait(timeout=20) == 129
        deadline = time.monotonic() + 5
        while alive(tree) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert alive(tree) == []
    finally:
        kill_all(tree)
        if run.poll() is None:
            run.kill()
            run.wait(timeout=10)
