"""End to end: the real `robo-backend up` on a copy of the example backend.

A real venv is created (uv), real dependencies installed, the model prefetched from the loopback
fake hub, real uvicorn supervised; then real signals. The project path has a space in it.
The tests in this module share one project (and so one venv) per test worker: the first run
is the cold one (the cold test gets a fresh copy if a test of this module came first).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from launcher.server.runfile import cmdline_digest
from tests.fakehub.fixtures import BGE_FILE, BGE_REPO, build_standard_models, serve_standard_models
from tests.fakehub.server import FakeHub
from tests.helpers.cli import CLI, launcher_argv
from tests.helpers.up_run import UpRun as Launcher
from tests.helpers.up_run import free_port
from tests.processes import alive, kill_all, running

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "examples" / "textbook-backend"
COLD_START_TIMEOUT = 600.0
READY_TIMEOUT = 120.0


def http(method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeHub]:
    models = build_standard_models(tmp_path_factory.mktemp("e2e-models"))
    with FakeHub() as fake:
        serve_standard_models(fake, models)
        yield fake


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example backend in a folder whose path has a space."""
    target = tmp_path_factory.mktemp("e2e") / "textbook backend"
    shutil.copytree(
        EXAMPLE, target, ignore=shutil.ignore_patterns(".venv*", ".robo-backend", "__pycache__")
    )
    return target


@pytest.fixture
def cold_project(project: Path, tmp_path: Path) -> Path:
    """The module's project while no test has set it up yet (the cold test usually runs first
    on its worker), else a fresh copy: the cold test always sees a cold project."""
    if not (project / ".venv").exists():
        return project
    target = tmp_path / "textbook backend"
    shutil.copytree(
        EXAMPLE, target, ignore=shutil.ignore_patterns(".venv*", ".robo-backend", "__pycache__")
    )
    return target


@pytest.fixture
def env(hub: FakeHub, tmp_path: Path) -> dict[str, str]:
    hub.clear_faults()
    hub.reset_log()
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "ROBO_BACKEND_"))}
    environ.update(
        {
            "HF_ENDPOINT": hub.url,
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "ROBO_BACKEND_LOG_DIR": str(tmp_path / "logs"),
            "ROBO_BACKEND_READY_TIMEOUT": str(READY_TIMEOUT),
            "NO_COLOR": "1",
        }
    )
    return environ


def up(project: Path, env: dict[str, str], cache: Path, *extra: str) -> Launcher:
    return Launcher(
        ["up", "-p", str(project), "--port", str(free_port()), "--cache-dir", str(cache), *extra],
        env,
    )


def ready_url(launcher: Launcher, timeout: float = COLD_START_TIMEOUT) -> str:
    """Wait for the "Backend ready at URL (pid N)" line; the URL."""
    line = launcher.wait_for("Backend ready at", timeout)
    return line.split("Backend ready at ", 1)[1].split(" ", 1)[0]


def run_to_end(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`robo-backend up` expected to stop before serving; its output and exit code."""
    return CLI("up", "-p", str(project), *args, base=env, timeout=COLD_START_TIMEOUT)


def test_cold_up_serves_search_then_ctrl_c_stops_the_whole_tree(
    cold_project: Path, env: dict[str, str], tmp_path: Path
) -> None:
    launcher = up(cold_project, env, tmp_path / "cache")
    try:
        url = ready_url(launcher)
        out = launcher.output
        assert "venv ready" in out and "created" in out
        assert "dependencies in sync" in out
        assert "Downloading BGE model... (Attempt 1/3)" in out
        assert "model ready" in out

        status, health = http("GET", url + "/health")
        assert status == 200
        assert health["status"] == "healthy"
        assert health["model_loaded"] is True
        assert health["model"]["state"] == "ready"
        assert health["model"]["resolved"] == "BAAI/bge-small-en-v1.5"
        assert health["model"]["attempt_count"] == 1

        status, found = http(
            "POST", url + "/search", {"query": "how do humanoid robots keep their balance", "k": 3}
        )
        assert status == 200
        assert len(found["results"]) == 3
        assert "balance" in json.dumps(found["results"][0]).lower()

        tree = launcher.tree()
        assert len(tree) >= 2, "the backend should run as a child of the launcher"
        started = time.monotonic()
        code = launcher.stop(signal.SIGINT)
        assert code == 130, launcher.output
        assert time.monotonic() - started < 15
        assert alive(tree) == [], f"survivors: {alive(tree)}"
    finally:
        launcher.kill()


def test_warm_up_creates_no_venv_and_installs_nothing(
    project: Path, env: dict[str, str], tmp_path: Path, hub: FakeHub
) -> None:
    cache = tmp_path / "cache"
    first = up(project, env, cache)
    try:
        first.wait_for("Backend ready at", COLD_START_TIMEOUT)
        assert first.stop() == 130
    finally:
        first.kill()
    hub.reset_log()
    second = up(project, env, cache)
    try:
        second.wait_for("Backend ready at", READY_TIMEOUT)
        out = second.output
        venv_line = next(line for line in second.lines if "venv ready" in line)
        deps_line = next(line for line in second.lines if "dependencies in sync" in line)
        assert "created" not in venv_line, venv_line
        assert "installed" not in deps_line or "nothing installed" in deps_line, deps_line
        assert "Downloading" not in out
        assert hub.requests == [], "a warm cache must need no network"
        assert second.stop(signal.SIGTERM) == 143
    finally:
        second.kill()


def test_reload_worker_does_not_outlive_ctrl_c(
    project: Path, env: dict[str, str], tmp_path: Path
) -> None:
    launcher = up(project, env, tmp_path / "cache", "--reload")
    try:
        launcher.wait_for("Backend ready at", COLD_START_TIMEOUT)
        tree = launcher.tree()
        assert len(tree) >= 3, f"--reload runs a reloader and a worker: {tree}"
        assert launcher.stop(signal.SIGINT) == 130
        assert alive(tree) == []
    finally:
        launcher.kill()


def test_injected_faults_show_in_health(
    project: Path, env: dict[str, str], tmp_path: Path, hub: FakeHub
) -> None:
    hub.fail_requests(2, status=503, path_contains=BGE_FILE)
    launcher = up(project, env, tmp_path / "cache", "--retry-delay", "0.2")
    try:
        url = ready_url(launcher)
        assert "Downloading BGE model... (Attempt 3/3)" in launcher.output
        _, health = http("GET", url + "/health")
        assert health["model"]["state"] == "ready"
        assert health["model"]["attempt_count"] == 3
        assert [a["ok"] for a in health["model"]["attempts"]] == [False, False, True]
        assert launcher.stop() == 130
    finally:
        launcher.kill()


def test_degraded_when_no_model_can_be_had(
    project: Path, env: dict[str, str], tmp_path: Path, hub: FakeHub
) -> None:
    hub.not_found(BGE_REPO)
    hub.not_found("Qdrant/all-MiniLM-L6-v2-onnx")
    launcher = up(project, env, tmp_path / "cache")
    try:
        url = ready_url(launcher)
        ready = next(line for line in launcher.output.splitlines() if "Backend ready at" in line)
        assert "in DEGRADED mode: no embedding model" in ready  # not a plain ✓ ready line
        assert not ready.lstrip().startswith(("✓", "OK"))
        _, health = http("GET", url + "/health")
        assert health["status"] == "degraded"
        assert health["model"]["state"] == "degraded"
        status, body = http("POST", url + "/search", {"query": "balance", "k": 1})
        assert status == 503
        assert body["detail"]
        assert launcher.stop() == 130
    finally:
        launcher.kill()
        hub.clear_faults()


def test_port_in_use_names_the_holder(project: Path, env: dict[str, str], tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = run_to_end(project, env, "--port", str(port), "--cache-dir", str(tmp_path / "cache"))
    assert done.returncode == 1, done.stderr
    assert f"pid {os.getpid()}" in done.stderr
    assert "hint:" in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_app_is_a_usage_error(project: Path, env: dict[str, str], tmp_path: Path) -> None:
    done = run_to_end(
        project, env, "--app", "nosuchmodule:app", "--cache-dir", str(tmp_path / "cache")
    )
    assert done.returncode == 2, done.stderr
    assert "nosuchmodule" in done.stderr
    assert "hint:" in done.stderr
    assert "Traceback" not in done.stderr


def test_backend_that_dies_shows_its_last_lines_and_exit_code(
    project: Path, env: dict[str, str], tmp_path: Path
) -> None:
    (project / "crash.py").write_text(
        "import sys\nprint('crash: the textbook index is missing', flush=True)\nsys.exit(3)\n"
        "app = None\n",
        encoding="utf-8",
    )
    launcher = up(project, env, tmp_path / "cache", "--app", "crash:app")
    try:
        code = launcher.proc.wait(timeout=COLD_START_TIMEOUT)
        launcher._reader.join(timeout=5)
        assert code == 3, launcher.output
        assert "crash: the textbook index is missing" in launcher.output
        assert "Backend ready" not in launcher.output
    finally:
        launcher.kill()
        (project / "crash.py").unlink()


def test_require_model_makes_no_model_fatal(
    project: Path, env: dict[str, str], tmp_path: Path, hub: FakeHub
) -> None:
    hub.not_found(BGE_REPO)
    hub.not_found("Qdrant/all-MiniLM-L6-v2-onnx")
    try:
        done = run_to_end(
            project, env, "--port", "0", "--cache-dir", str(tmp_path / "cache"), "--require-model"
        )
    finally:
        hub.clear_faults()
    assert done.returncode == 1, done.stderr
    assert "no embedding model could be made ready" in done.stderr
    assert "hint:" in done.stderr
    assert "Backend ready" not in done.stderr
    status = json.loads((project / ".robo-backend" / "status.json").read_text())
    assert status["model"]["state"] == "failed"


def test_backend_gets_the_environment_contract(
    project: Path, env: dict[str, str], tmp_path: Path
) -> None:
    (project / "envdump.py").write_text(
        "import os, sys\n"
        "from fastapi import FastAPI\n"
        "app = FastAPI()\n"
        "@app.get('/health')\n"
        "def health():\n"
        "    names = ['VIRTUAL_ENV', 'FASTEMBED_CACHE_PATH', 'HF_HUB_OFFLINE',\n"
        "             'ROBO_BACKEND_MODEL', 'ROBO_BACKEND_STATUS_FILE']\n"
        "    env = {n: os.environ.get(n) for n in names}\n"
        "    env['PATH0'] = os.environ['PATH'].split(os.pathsep)[0]\n"
        "    env['prefix'] = sys.prefix\n"
        "    return env\n",
        encoding="utf-8",
    )
    cache = tmp_path / "cache"
    launcher = up(project, env, cache, "--app", "envdump:app")
    try:
        url = ready_url(launcher)
        _, seen = http("GET", url + "/health")
        venv = project / ".venv"
        assert Path(seen["VIRTUAL_ENV"]) == venv
        assert Path(seen["prefix"]) == venv
        assert Path(seen["PATH0"]) == venv / "bin"
        assert Path(seen["FASTEMBED_CACHE_PATH"]) == cache
        assert seen["HF_HUB_OFFLINE"] == "1"
        assert seen["ROBO_BACKEND_MODEL"] == "BAAI/bge-small-en-v1.5"
        status_file = Path(seen["ROBO_BACKEND_STATUS_FILE"])
        status = json.loads(status_file.read_text())
        assert status["schema"] == 1
        assert status["model"]["state"] == "ready"
        assert status["environment"]["activation"] == "direct"
        assert Path(status["environment"]["venv"]) == venv
        assert launcher.stop() == 130
    finally:
        launcher.kill()
        (project / "envdump.py").unlink()


def status_json(project: Path, env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    done = CLI("status", "-p", str(project), "--json", base=env)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def wait_gone(processes: list[psutil.Process], seconds: float) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    while alive(processes) and time.monotonic() < deadline:
        time.sleep(0.02)
    return alive(processes)


def kill_9_and_expect_no_survivor(launcher: Launcher, expect: int) -> None:
    """SIGKILL the launcher alone; every process it started must be gone within 5 s."""
    time.sleep(1.2)  # the launcher re-reads its tree every second
    backend = [p for p in launcher.tree() if p.pid != launcher.proc.pid]
    assert len(backend) >= expect, backend  # uvicorn (+ its --reload worker) + the watchdog
    launcher.proc.send_signal(signal.SIGKILL)
    launcher.proc.wait(timeout=10)
    assert wait_gone(backend, 5) == [], [p.cmdline() for p in alive(backend)]


def test_kill_9_of_up_leaves_no_backend_and_the_next_up_is_healthy(
    project: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """While `up` runs, `status` shows it and a second `up` of the project says where it runs.
    Then SIGKILL of the launcher (the OOM killer, an IDE's hard stop): no process of the
    backend survives, `status` says so, and a second `up` on the same port comes up healthy;
    SIGTERM stops it with 143 and the run file is gone."""
    cache = tmp_path / "cache"
    port = free_port()
    args = ["up", "-p", str(project), "--port", str(port), "--cache-dir", str(cache)]
    first = Launcher(args, env)
    try:
        url = ready_url(first)
        code, report = status_json(project, env)
        assert code == 0, report
        assert report["running"] is True and report["launcher_alive"] is True
        assert report["url"] == url and report["launcher_pid"] == first.proc.pid
        assert report["health"]["status"] == 200
        assert report["model"]["state"] == "ready"

        again = run_to_end(project, env, "--port", "0", "--cache-dir", str(cache))
        assert again.returncode == 1, again.stderr
        assert f"already running at {url} (pid " in again.stderr
        assert f"by `up` pid {first.proc.pid})" in again.stderr
        assert "hint:" in again.stderr and " status`" in again.stderr  # as run: -m launcher
        assert "Traceback" not in again.stderr
        assert first.proc.poll() is None  # the running one is left alone

        kill_9_and_expect_no_survivor(first, 2)
    finally:
        first.kill()
    code, report = status_json(project, env)
    assert code == 1 and report["running"] is False and report["state"] == "stale", report

    second = Launcher(args, env)
    try:
        assert ready_url(second, READY_TIMEOUT) == url
        assert "already running" not in second.output
        status, health = http("GET", url + "/health")
        assert status == 200 and health["status"] == "healthy"
        assert second.stop(signal.SIGTERM) == 143
        assert not (project / ".robo-backend" / "run.json").exists()
    finally:
        second.kill()


def test_kill_9_of_up_with_reload_takes_the_worker_too(
    project: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """uvicorn's --reload worker is a grandchild of `up`: it must die with `up` as well."""
    launcher = up(project, env, tmp_path / "cache", "--reload")
    try:
        ready_url(launcher)
        kill_9_and_expect_no_survivor(launcher, 3)
    finally:
        launcher.kill()


def test_an_orphaned_backend_of_this_project_is_stopped_then_up_proceeds(
    project: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """A backend whose launcher is gone (recorded in the run file) holds the port: `up` says
    so, stops it (it is ours), and serves on that port."""
    port = free_port()
    venv_python = project / ".venv" / "bin" / "python"
    orphan = subprocess.Popen(
        [str(venv_python), "-m", "uvicorn", "main:app", "--port", str(port)],
        cwd=project,
        env={**env, "ROBO_BACKEND_MODEL": ""},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    gone = subprocess.Popen([sys.executable, "-c", "pass"])  # a launcher that has exited
    gone_started = psutil.Process(gone.pid).create_time()
    gone.wait(timeout=10)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        record = {
            "schema": 1,
            "launcher_pid": gone.pid,
            "launcher_started": gone_started,
            "launcher_cmdline": cmdline_digest([sys.executable, "-c", "pass"]),
            "backend_pid": orphan.pid,
            "backend_started": psutil.Process(orphan.pid).create_time(),
            "backend_cmdline": cmdline_digest(psutil.Process(orphan.pid).cmdline()),
            "url": f"http://127.0.0.1:{port}",
            "port": port,
            "started_at": time.time() - 60,
            "command": ["python", "-m", "uvicorn", "main:app"],
        }
        (project / ".robo-backend").mkdir(exist_ok=True)
        (project / ".robo-backend" / "run.json").write_text(json.dumps(record))
        launcher = Launcher(
            ["up", "-p", str(project), "--port", str(port), "--cache-dir", str(tmp_path / "c")],
            env,
        )
        try:
            ready_url(launcher)
            assert f"still running at http://127.0.0.1:{port} (pid {orphan.pid})" in launcher.output
            assert "stopping it" in launcher.output
            assert orphan.poll() is not None
            assert launcher.stop() == 130
        finally:
            launcher.kill()
    finally:
        if orphan.poll() is None:
            orphan.kill()
        orphan.wait(timeout=10)


def test_a_closed_terminal_stops_the_tree_quietly_with_129(
    project: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """`up` in a real pseudo-terminal that it controls; the terminal goes away (the master is
    closed, like a closed window or a dropped ssh session): exit 129, no survivor, no
    traceback, and the log file says why it stopped."""
    import pty

    master, slave = pty.openpty()
    args = ["up", "-p", str(project), "--port", str(free_port())]
    args += ["--cache-dir", str(tmp_path / "cache")]

    def controlling_tty() -> None:
        import fcntl
        import termios

        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    launcher = subprocess.Popen(
        launcher_argv(*args),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**env, "TERM": "dumb"},
        preexec_fn=controlling_tty,
    )
    os.close(slave)
    seen = b""
    tree: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while b"Backend ready at" not in seen and time.monotonic() < deadline:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            seen += chunk
        assert b"Backend ready at" in seen, seen.decode(errors="replace")
        time.sleep(1.2)
        root = psutil.Process(launcher.pid)
        tree = [root, *root.children(recursive=True)]
        os.close(master)
        master = -1
        assert launcher.wait(timeout=30) == 129
        assert wait_gone(tree, 5) == []
        log = (tmp_path / "logs" / "robo-backend.log").read_text(encoding="utf-8")
        assert "the console was closed (hangup)" in log
        assert "Traceback" not in log
    finally:
        if master >= 0:
            os.close(master)
        kill_all(tree)
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait(timeout=10)


def test_a_health_route_only_under_api_is_found_and_said_on_the_ready_line(
    project: Path, env: dict[str, str], tmp_path: Path
) -> None:
    """A backend as public ones are written: its health route sits in a router with the
    /api prefix. `up` finds it in the OpenAPI, says so, and `status` polls that route; a
    configured health_path the app does not have fails fast with the route it does have."""
    (project / "apihealth.py").write_text(
        "from fastapi import APIRouter, FastAPI\n"
        "app = FastAPI()\n"
        "router = APIRouter(prefix='/api')\n"
        "@router.get('/health')\n"
        "def health():\n"
        "    return {'status': 'ok'}\n"
        "app.include_router(router)\n",
        encoding="utf-8",
    )
    cache = tmp_path / "cache"
    launcher = up(project, env, cache, "--app", "apihealth:app")
    try:
        line = launcher.wait_for("Backend ready at", READY_TIMEOUT)
        assert "health route /api/health found in the app's OpenAPI" in line, line
        code, report = status_json(project, env)
        assert code == 0, report
        assert report["health"]["url"].endswith("/api/health")
        assert launcher.stop() == 130
    finally:
        launcher.kill()
    try:
        done = run_to_end(
            project,
            {**env, "ROBO_BACKEND_HEALTH_PATH": "/healthz"},
            "--app",
            "apihealth:app",
            "--port",
            "0",
            "--cache-dir",
            str(cache),
        )
        assert done.returncode == 1, done.stderr
        assert "the health path /healthz answers 404" in done.stderr
        assert "/api/health" in done.stderr
        assert "did not answer 200" not in done.stderr
        assert "Traceback" not in done.stderr
    finally:
        (project / "apihealth.py").unlink()


def _early_pid(launcher: Launcher) -> int:
    line = launcher.wait_for("early start: the backend (pid ", 10)
    return int(line.split("(pid ", 1)[1].split(")", 1)[0])


def test_the_same_up_again_starts_the_backend_early_and_checks_it(
    project: Path, env: dict[str, str], tmp_path: Path, hub: FakeHub
) -> None:
    """Run 1 records; run 2 (another unrelated variable in the environment) starts the backend
    before its checks and keeps it; run 3, after an edit that changes the app `up` must serve,
    stops the early backend unseen and serves the right one; run 4 is interrupted while its
    checks run: 130 and the early backend is gone too."""
    pyproject, main = project / "pyproject.toml", project / "main.py"
    originals = {path: path.read_text(encoding="utf-8") for path in (pyproject, main)}
    # the app is found, not configured, as in most users' projects
    pyproject.write_text(originals[pyproject].replace('app = "main:app"', ""), encoding="utf-8")
    try:
        _early_runs(project, env, tmp_path, hub)
    finally:
        for path, text in originals.items():
            path.write_text(text, encoding="utf-8")


def _early_runs(project: Path, env: dict[str, str], tmp_path: Path, hub: FakeHub) -> None:
    cache, port = tmp_path / "cache", free_port()
    args = ["up", "-v", "-p", str(project), "--port", str(port), "--cache-dir", str(cache)]
    first = Launcher(args, env)
    try:
        first.wait_for("Backend ready at", COLD_START_TIMEOUT)
        assert "early start:" not in first.output
        assert first.stop() == 130
    finally:
        first.kill()

    hub.reset_log()
    second = Launcher(args, dict(env, SOME_UNRELATED_SETTING="1"))
    try:
        early = _early_pid(second)
        ready = second.wait_for("Backend ready at", READY_TIMEOUT)
        assert f"(pid {early})" in ready, second.output  # the early backend is the one served
        assert "early start confirmed" in second.output
        assert http("GET", f"http://127.0.0.1:{port}/health")[1]["status"] == "healthy"
        assert hub.requests == []
        code, survivors = second.interrupt()
        assert code == 130 and survivors == [], second.output
    finally:
        second.kill()

    main = project / "main.py"
    main.write_text(re.sub(r"\bapp\b", "application", main.read_text("utf-8")), "utf-8")
    third = Launcher(args, env)
    try:
        early = _early_pid(third)
        ready = third.wait_for("Backend ready at", READY_TIMEOUT)
        assert "early start not confirmed" in third.output
        assert f"(pid {early})" not in ready
        assert not running(early)
        assert "main:application" in third.output
        assert 'Attribute "app" not found' not in third.output  # the guess is never shown
        assert third.stop() == 130
    finally:
        third.kill()

    fourth = Launcher(args, env)
    try:
        early = _early_pid(fourth)
        code, survivors = fourth.interrupt()
        assert code == 130, fourth.output
        assert survivors == [] and not running(early), fourth.output
    finally:
        fourth.kill()
