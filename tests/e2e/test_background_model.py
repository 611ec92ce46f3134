"""End to end: the model work `up` does in the background, with real processes.

The model download overlaps the install on a cold run; a backend that started degraded because
every hub request failed is restarted onto the model once the hub answers again, with nobody
touching it; a backend serving the fallback announces the main model and, with
`allow_model_switch = false`, keeps serving the fallback; Ctrl-C stops everything with 130 at
any moment; a failed install cancels the download and leaves its partial files.

One copy of the example backend (and so one venv) is shared: the first test is the cold run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.fakehub.fixtures import BGE_FILE, BGE_REPO, build_standard_models, serve_standard_models
from tests.fakehub.server import FakeHub
from tests.helpers.up_run import UpRun, free_port, http_json, launcher_env
from tests.processes import alive, kill_all

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "examples" / "textbook-backend"
COLD = 600.0  # a cold venv and install on a loaded machine
WARM = 180.0
RECOVERY = 120.0  # the background tries every 10 s at most once the hub is back
READY = "Backend ready at"
ARRIVED = "downloaded after"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeHub]:
    models = build_standard_models(tmp_path_factory.mktemp("bg-models"))
    with FakeHub() as fake:
        serve_standard_models(fake, models)
        yield fake


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("bg") / "textbook"
    shutil.copytree(
        EXAMPLE, target, ignore=shutil.ignore_patterns(".venv*", ".robo-backend", "__pycache__")
    )
    return target


@pytest.fixture
def env(hub: FakeHub, tmp_path: Path) -> Iterator[dict[str, str]]:
    hub.clear_faults()
    hub.reset_log()
    yield launcher_env(hub.url, str(tmp_path / "logs"))
    hub.clear_faults()


def up(project: Path, env: dict[str, str], cache: Path, *extra: str) -> UpRun:
    args = ["up", "-p", str(project), "--port", str(free_port()), "--cache-dir", str(cache)]
    return UpRun([*args, *extra], env)


def status_json(project: Path, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "launcher", "status", "-p", str(project), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def backends_of(project: Path) -> list[psutil.Process]:
    """Every uvicorn of this project's venv still running (however it was started)."""
    python = str(project / ".venv" / "bin" / "python")
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if cmdline[:1] == [python] and "uvicorn" in cmdline:
            found.append(process)
    return alive(found)


def onnx_gets(hub: FakeHub) -> list[Any]:
    return [r for r in hub.requests if r.method == "GET" and r.path.endswith("/" + BGE_FILE)]


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout:g} s")


def partials(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*.incomplete") if p.stat().st_size > 0]


def test_a_cold_up_downloads_the_model_while_it_installs(
    project: Path, env: dict[str, str], tmp_path: Path, hub: FakeHub
) -> None:
    launcher = up(project, env, tmp_path / "cache")
    try:
        url = launcher.ready_url(COLD)
        lines = launcher.lines
        started = next(i for i, line in enumerate(lines) if "Downloading BGE model..." in line)
        installed = next(i for i, line in enumerate(lines) if "dependencies in sync" in line)
        assert "created" in next(line for line in lines if "venv ready" in line)
        assert started < installed, launcher.output  # the download began before the install ended
        assert len(onnx_gets(hub)) == 1, hub.requests  # and it is the only download
        status, health = http_json(url + "/health")
        assert status == 200 and health["model_loaded"] is True
        assert health["model"]["state"] == "ready" and health["model"]["attempt_count"] == 1
        assert launcher.stop() == 130
    finally:
        launcher.kill()


def test_a_degraded_backend_is_restarted_onto_the_model_once_the_hub_answers(
    project: Path, env: dict[str, str], tmp_path: Path, hub: FakeHub
) -> None:
    hub.refuse_all()
    launcher = up(project, env, tmp_path / "cache")
    try:
        url = launcher.ready_url(WARM)
        status, health = http_json(url + "/health")
        assert status == 200 and health["status"] == "degraded"
        assert "background" in launcher.output  # the model step says what comes next
        wait_until(
            lambda: (status_json(project, env)["model"].get("background") or {}).get("tries"),
            RECOVERY,
            "a background try",
        )
        report = status_json(project, env)
        assert report["model"]["state"] == "degraded"
        assert report["model"]["background"]["state"] == "retrying"
        quiet = launcher.output.split(READY, 1)[1]
        assert "cannot reach" not in quiet, "background tries are quiet at normal verbosity"
        first_pid = report["backend_pid"]

        hub.clear_faults()
        line = launcher.wait_for(ARRIVED, RECOVERY)
        assert "BAAI/bge-small-en-v1.5" in line and "degraded: restarting the backend" in line
        wait_until(lambda: launcher.output.count(READY) == 2, RECOVERY, "a second ready line")
        status, health = http_json(url + "/health")
        assert status == 200 and health["status"] == "healthy" and health["model_loaded"]
        assert health["model"]["state"] == "ready"
        assert health["model"]["background"]["state"] == "arrived"

        report = status_json(project, env)
        assert report["backend_pid"] != first_pid and report["health"]["status"] == 200
        assert report["model"]["state"] == "ready" and report["launcher_pid"] == launcher.proc.pid
        human = subprocess.run(
            [sys.executable, "-m", "launcher", "status", "-p", str(project)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert "downloaded in the background after" in human.stdout, human.stdout

        code, survivors = launcher.interrupt()
        assert code == 130 and survivors == []
        assert backends_of(project) == []
        assert not (project / ".robo-backend" / "run.json").exists()
    finally:
        launcher.kill()


def test_ctrl_c_mid_recovery_and_mid_restart_exits_130_with_no_survivor(
    project: Path, env: dict[str, str], tmp_path: Path, hub: FakeHub
) -> None:
    cache = tmp_path / "cache"
    hub.refuse_all()
    launcher = up(project, env, cache)  # Ctrl-C while the background download runs
    try:
        launcher.ready_url(WARM)
        hub.clear_faults()
        hub.throttle(20_000)  # the model's body trickles: the download is under way for long
        wait_until(lambda: partials(cache), RECOVERY, "a partial download")
        code, survivors = launcher.interrupt()
        assert code == 130 and survivors == [], launcher.output
        assert backends_of(project) == []
        assert partials(cache), "the partial file stays for the next run"
    finally:
        launcher.kill()
        kill_all(backends_of(project))

    hub.clear_faults()
    hub.refuse_all()
    again = up(project, env, tmp_path / "cache-2")  # Ctrl-C as the restart begins
    try:
        again.ready_url(WARM)
        hub.clear_faults()
        again.wait_for(ARRIVED, RECOVERY)
        code, survivors = again.interrupt()
        assert code == 130 and survivors == [], again.output
        wait_until(lambda: backends_of(project) == [], 10, "no backend left")
    finally:
        again.kill()
        kill_all(backends_of(project))


def test_a_fallback_backend_announces_the_main_model_and_keeps_it_when_switching_is_refused(
    project: Path, env: dict[str, str], tmp_path: Path, hub: FakeHub
) -> None:
    (project / ".robo-backend" / "status.json").unlink(missing_ok=True)  # no model used before
    hub.not_found(BGE_REPO)
    env = dict(env, ROBO_BACKEND_ALLOW_MODEL_SWITCH="0")
    launcher = up(project, env, tmp_path / "cache")
    try:
        url = launcher.ready_url(WARM)
        _, health = http_json(url + "/health")
        fallback = "sentence-transformers/all-MiniLM-L6-v2"
        assert health["model"]["resolved"] == fallback and health["model_loaded"]
        pid = status_json(project, env)["backend_pid"]

        hub.clear_faults()
        line = launcher.wait_for("refuses a switch", RECOVERY)
        assert "BAAI/bge-small-en-v1.5 downloaded in the background" in line
        _, health = http_json(url + "/health")
        assert health["model"]["resolved"] == fallback and health["model_loaded"]
        assert health["model"]["background"]["state"] == "refused"
        report = status_json(project, env)
        assert report["backend_pid"] == pid, "the backend was not restarted"
        assert launcher.output.count(READY) == 1 and ARRIVED not in launcher.output
        assert launcher.stop() == 130
    finally:
        launcher.kill()
        (project / ".robo-backend" / "status.json").unlink(missing_ok=True)


def test_a_fallback_backend_is_restarted_onto_the_main_model_with_the_switch_warning(
    project: Path, env: dict[str, str], tmp_path: Path, hub: FakeHub
) -> None:
    (project / ".robo-backend" / "status.json").unlink(missing_ok=True)
    hub.not_found(BGE_REPO)
    launcher = up(project, env, tmp_path / "cache")  # allow_model_switch = true (the default)
    try:
        url = launcher.ready_url(WARM)
        fallback = "sentence-transformers/all-MiniLM-L6-v2"
        assert http_json(url + "/health")[1]["model"]["resolved"] == fallback

        hub.clear_faults()
        line = launcher.wait_for(ARRIVED, RECOVERY)
        assert f"on the fallback {fallback}: restarting the backend onto it" in line
        warning = launcher.wait_for("the embedding model changed", RECOVERY)
        assert fallback in warning and "BAAI/bge-small-en-v1.5" in warning  # never silently
        wait_until(lambda: launcher.output.count(READY) == 2, RECOVERY, "a second ready line")
        _, health = http_json(url + "/health")
        assert health["model"]["resolved"] == "BAAI/bge-small-en-v1.5" and health["model_loaded"]
        assert health["model"]["changed_from"] == fallback
        assert launcher.stop() == 130
    finally:
        launcher.kill()
        (project / ".robo-backend" / "status.json").unlink(missing_ok=True)


@pytest.fixture
def slow_failing(tmp_path: Path) -> Path:
    """A project whose only dependency takes 6 s to fail its build (offline, no index)."""
    package = tmp_path / "slowfail"
    package.mkdir()
    (package / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "slowbackend"\nbackend-path = ["."]\n'
        '[project]\nname = "slowfail"\nversion = "0"\n',
        encoding="utf-8",
    )
    (package / "slowbackend.py").write_text(
        "import time\n"
        "def _fail(*args, **kwargs):\n"
        "    time.sleep(6)\n"
        "    raise SystemExit('slowfail: this package never builds')\n"
        "def get_requires_for_build_wheel(config_settings=None):\n"
        "    return []\n"
        "prepare_metadata_for_build_wheel = build_wheel = _fail\n",
        encoding="utf-8",
    )
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.py").write_text("from fastapi import FastAPI\napp = FastAPI()\n")
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "p"\nversion = "0"\ndependencies = ["slowfail @ {package.as_uri()}"]\n',
        encoding="utf-8",
    )
    return project


def test_a_failed_install_cancels_the_download_and_keeps_its_partial(
    slow_failing: Path, env: dict[str, str], tmp_path: Path, hub: FakeHub
) -> None:
    cache = tmp_path / "cache"
    hub.throttle(20_000)
    launcher = up(slow_failing, dict(env, UV_OFFLINE="1"), cache)
    try:
        code = launcher.proc.wait(timeout=WARM)
        launcher.wait_for("slowfail", 5)
        assert code == 1, launcher.output
        assert "dependencies" in launcher.output and "Traceback" not in launcher.output
        assert "downloaded and verified" not in launcher.output
        assert partials(cache), "the download had begun: its partial file stays"
        assert not list(cache.glob("models--*/snapshots/*/*.onnx"))
    finally:
        launcher.kill()


def test_ctrl_c_during_the_install_stops_the_download_too(
    slow_failing: Path, env: dict[str, str], tmp_path: Path, hub: FakeHub
) -> None:
    cache = tmp_path / "cache"
    hub.throttle(20_000)
    launcher = up(slow_failing, dict(env, UV_OFFLINE="1"), cache)
    try:
        wait_until(lambda: partials(cache), WARM, "a partial download during the install")
        assert launcher.proc.poll() is None, launcher.output
        tree = launcher.tree()
        code, survivors = launcher.interrupt()
        assert code == 130, launcher.output
        assert survivors == [] and alive(tree) == []
        assert partials(cache)
    finally:
        launcher.kill()
