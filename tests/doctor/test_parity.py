"""doctor exit 0 means `up` gets past its pre-flight: every check the pre-flight relies on
(app discovery, the health path when set, the state folder) is a doctor check too.

Real subprocesses of both commands on the same folder; `up` is run only where it stops before
creating anything, and the test checks that it did stop there.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from launcher.checks import preflight, run_checks
from launcher.checks.core import DoctorContext
from launcher.models.location import CacheLocation
from launcher.settings import resolve_settings
from tests.helpers.cli import CLI
from tests.helpers.doctor import LINUX

OFFLINE = {"HF_HUB_OFFLINE": "1", "ROBO_BACKEND_OFFLINE": "1"}
NOBODY = "65534"  # uid and gid of nobody/nogroup on Debian-like systems


def run(
    command: str,
    project: Path,
    *args: str,
    env: dict[str, str] | None = None,
    user: str | None = None,
) -> subprocess.CompletedProcess[str]:
    setpriv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"]
    return CLI(
        command,
        "-p",
        str(project),
        *args,
        env={**OFFLINE, **(env or {})},
        prefix=setpriv if user is not None else (),
    )


def checks_of(done: subprocess.CompletedProcess[str]) -> dict[str, dict[str, object]]:
    return {c["id"]: c for c in json.loads(done.stdout)["checks"]}


def test_a_folder_without_an_app_fails_doctor_where_up_stops(tmp_path: Path) -> None:
    # the repository root: no app of its own, an example backend below it
    root = tmp_path / "repo"
    example = root / "examples" / "textbook-backend"
    example.mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "launcher"\n', encoding="utf-8")
    (example / "pyproject.toml").write_text('[project]\nname = "demo"\n', encoding="utf-8")
    (example / "main.py").write_text("from fastapi import FastAPI\napp = FastAPI()\n", "utf-8")

    doctor = run("doctor", root, "--json")
    assert doctor.returncode == 1, doctor.stdout
    app = checks_of(doctor)["app"]
    assert app["status"] == "fail"
    assert "-p examples/textbook-backend" in str(app["hint"])

    up = run("up", root, "--port", "0")
    assert up.returncode == 2, up.stderr
    assert "could not find the FastAPI app" in up.stderr
    assert "hint: examples/textbook-backend holds a backend of its own: add -p " in up.stderr
    assert not (root / ".venv").exists()

    # and with -p, both agree the example is a project with an app
    fixed = run("doctor", example, "--json")
    assert checks_of(fixed)["app"]["status"] == "ok"


def test_a_state_folder_that_is_a_file_fails_doctor_and_stops_up_before_any_install(
    project: Path,
) -> None:
    (project / ".robo-backend").write_text("not a folder", encoding="utf-8")
    doctor = run("doctor", project, "--json")
    assert doctor.returncode == 1
    state = checks_of(doctor)["state-dir"]
    assert state["status"] == "fail" and "is a file" in str(state["summary"])

    up = run("up", project, "--port", "0")
    assert up.returncode == 1, up.stderr
    assert "Traceback" not in up.stderr
    assert "error: the state folder" in up.stderr and "is a file, not a folder" in up.stderr
    assert "hint:" in up.stderr and "ROBO_BACKEND_STATE_DIR" in up.stderr
    assert not (project / ".venv").exists()  # stopped before the venv and the install

    moved = run("doctor", project, "--json", env={"ROBO_BACKEND_STATE_DIR": "state"})
    assert checks_of(moved)["state-dir"]["status"] == "ok"


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="drops privileges with setpriv, which needs root; as a user, the "
    "read-only folder is covered by the is-a-file case",
)
def test_a_read_only_project_fails_doctor_and_stops_up(project: Path, tmp_path: Path) -> None:
    # root ignores permissions, so the launcher runs as `nobody` on a folder it cannot write
    logs = tmp_path / "logs"
    cache = tmp_path / "cache"
    for folder in (logs, cache):
        folder.mkdir()
        folder.chmod(0o777)
    for parent in [tmp_path, *tmp_path.parents]:
        if parent == Path(parent.anchor):
            break
        parent.chmod(parent.stat().st_mode | 0o005)  # let `nobody` reach the project
    project.chmod(0o555)
    env = {
        "ROBO_BACKEND_LOG_DIR": str(logs),
        "ROBO_BACKEND_CACHE_DIR": str(cache),
        "HOME": str(tmp_path),
    }
    doctor = run("doctor", project, "--json", env=env, user=NOBODY)
    assert doctor.returncode == 1, doctor.stderr
    state = checks_of(doctor)["state-dir"]
    assert state["status"] == "fail" and "cannot be written" in str(state["summary"])

    up = run("up", project, "--port", "0", env=env, user=NOBODY)
    assert up.returncode == 1, up.stderr
    assert "Traceback" not in up.stderr
    assert "cannot be written" in up.stderr and "ROBO_BACKEND_STATE_DIR" in up.stderr
    assert not (project / ".venv").exists()


def test_a_health_path_that_is_no_route_is_named_by_doctor(project: Path) -> None:
    doctor = run("doctor", project, "--json", env={"ROBO_BACKEND_HEALTH_PATH": "/healthz"})
    health = checks_of(doctor)["health-path"]
    assert health["status"] == "warn"
    assert "/healthz" in str(health["summary"]) and "not a route" in str(health["summary"])
    routed = run("doctor", project, "--json", env={"ROBO_BACKEND_HEALTH_PATH": "/health"})
    assert checks_of(routed)["health-path"]["status"] == "ok"


def test_every_preflight_check_is_a_doctor_check(project: Path, tmp_path: Path) -> None:
    # doctor passing means the pre-flight passes: same checks, same context
    settings = resolve_settings(project, {}, OFFLINE)
    cache = CacheLocation(tmp_path / "cache", "--cache-dir", True)
    context = DoctorContext(settings=settings, facts=LINUX, env=OFFLINE, cache=cache, port=0)
    doctor_ids = {c.id for c in run_checks(context)}
    pre = preflight(settings, cache=cache, port=0, facts=LINUX, env=OFFLINE)
    assert {c.id for c in pre} <= doctor_ids
    assert {"state-dir", "health-path", "settings", "cache-dir"} <= {c.id for c in pre}


def test_a_moved_state_folder_takes_everything_with_it(project: Path, tmp_path: Path) -> None:
    # the hint's way out of a `.robo-backend` file: the state folder moves, and `up` goes on
    (project / ".robo-backend").write_text("not a folder", encoding="utf-8")
    env = {"ROBO_BACKEND_STATE_DIR": "state", "ROBO_BACKEND_CACHE_DIR": str(tmp_path / "cache")}
    up = run("up", project, "--port", "0", "--install", "never", env=env)
    assert "Traceback" not in up.stderr
    assert "venv ready" in up.stderr, up.stderr  # past the pre-flight and the venv lock
    assert (project / "state").is_dir()
    assert (project / ".robo-backend").read_text(encoding="utf-8") == "not a folder"


def test_our_own_running_backend_is_said_to_run_not_counted_as_failures(project: Path) -> None:
    """The run file of an `up` whose launcher is alive and whose backend listens on the port
    (this test process stands in for both): doctor says it is running, on that port, and
    fails neither check; `up` says the same and stops (exit 1) instead of starting another."""
    import socket

    from launcher.server.runfile import make_record, write_run

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        write_run(project / ".robo-backend", make_record(os.getpid(), url, port, ["uvicorn"]))

        doctor = run("doctor", project, "--json", env={"ROBO_BACKEND_PORT": str(port)})
        checks = checks_of(doctor)
        assert checks["running"]["status"] == "ok", checks["running"]
        assert f"this project's backend is running at {url}" in str(checks["running"]["summary"])
        assert checks["port"]["status"] == "ok", checks["port"]
        assert "served by this project's backend" in str(checks["port"]["summary"])
        assert [c for c in checks.values() if c["status"] == "fail"] == []

        up = run("up", project, "--port", str(port))
        assert up.returncode == 1, up.stderr
        assert f"already running at {url}" in up.stderr
        assert not (project / ".venv").exists()


def test_someone_else_on_the_port_is_still_a_failure(project: Path) -> None:
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        doctor = run("doctor", project, "--json", env={"ROBO_BACKEND_PORT": str(port)})
    checks = checks_of(doctor)
    assert checks["port"]["status"] == "fail" and f"pid {os.getpid()}" in str(
        checks["port"]["summary"]
    )
    assert checks["running"]["status"] == "ok"
