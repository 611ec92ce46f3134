"""The early start's record: what it keeps, when it predicts a start, what it never writes;
the entry point that starts it (wherever the state folder is) and the switch that turns it off.

Real files in a temp folder, real sockets and real processes; the end-to-end runs (started
early, confirmed, not confirmed, interrupted) are in tests/e2e/test_up.py.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from pathlib import Path

import pytest

from launcher import redact
from launcher.faststart import SWITCH
from launcher.settings import resolve_settings
from launcher.up.early import (
    RECORD_FILE,
    Launch,
    apply_changes,
    depended_on,
    env_changes,
    planned,
    remember,
    request_key,
    start_for_command_line,
    take,
    up_project,
)
from tests.helpers.up_run import free_port

BASE = {"PATH": "/usr/bin:/bin", "HOME": "/home/u", "PYTHONHOME": "/x", "LANG": "C.UTF-8"}


def _launch(tmp_path: Path, port: int, **env: str) -> Launch:
    final = dict(BASE, PATH=f"{tmp_path}/.venv/bin:/usr/bin:/bin", **env)
    del final["PYTHONHOME"]
    argv = [f"{tmp_path}/.venv/bin/python", "-m", "uvicorn", "main:app", "--port", str(port)]
    return Launch(argv, final, str(tmp_path), "127.0.0.1", port)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    folder = tmp_path / ".robo-backend"
    folder.mkdir()
    return folder


def test_environment_changes_replay_on_a_different_environment(tmp_path: Path) -> None:
    launch = _launch(tmp_path, 8000, HF_HUB_OFFLINE="1")
    changes = env_changes(BASE, launch.env)
    assert changes["unset"] == ["PYTHONHOME"]
    assert changes["prepend"] == {"PATH": f"{tmp_path}/.venv/bin:"}
    assert apply_changes(BASE, changes) == launch.env
    moved = dict(BASE, PATH="/opt/bin:/usr/bin", EXTRA="1")
    replayed = apply_changes(moved, changes)
    assert replayed["PATH"] == f"{tmp_path}/.venv/bin:/opt/bin:/usr/bin"
    assert replayed["EXTRA"] == "1" and "PYTHONHOME" not in replayed


def test_a_remembered_start_is_planned_until_a_signed_file_changes(
    tmp_path: Path, state: Path
) -> None:
    port = free_port()
    key = request_key(tmp_path, ["up", "--port", str(port)], BASE)
    pyproject = tmp_path / "pyproject.toml"
    launch = _launch(tmp_path, port, HF_HUB_OFFLINE="1")
    remember(state, key, launch, BASE, [str(pyproject), str(tmp_path / "uv.lock")])
    record = json.loads((state / RECORD_FILE).read_text(encoding="utf-8"))
    assert "/home/u" not in json.dumps(record["env"])  # only the launcher's own changes kept
    plan = planned(state, key, BASE)
    assert plan is not None and plan[0] == launch
    assert (
        planned(state, request_key(tmp_path, ["up", "--port", str(port + 1)], BASE), BASE) is None
    )
    with socket.socket() as holder:  # the port is taken: nothing is started
        holder.bind(("127.0.0.1", port))
        holder.listen()
        assert planned(state, key, BASE) is None
    (tmp_path / "uv.lock").write_text("version = 1\n", encoding="utf-8")  # a lock appeared
    assert planned(state, key, BASE) is None


def test_an_edit_of_a_signed_file_stops_the_prediction(tmp_path: Path, state: Path) -> None:
    port = free_port()
    key = request_key(tmp_path, ["up", "--port", str(port)], BASE)
    pyproject = tmp_path / "pyproject.toml"
    remember(state, key, _launch(tmp_path, port), BASE, [str(pyproject)])
    assert planned(state, key, BASE) is not None
    pyproject.write_text("[project]\nname = 'x'\ndependencies = ['httpx']\n", encoding="utf-8")
    assert planned(state, key, BASE) is None


@pytest.mark.parametrize("edited", ["constraints/base.txt", "pylock.dev.toml", ".env"])
def test_every_file_the_dependency_decision_reads_is_signed(
    tmp_path: Path, state: Path, edited: str
) -> None:
    """A file that requirements.txt includes, a named PEP 751 lock, the .env: editing any of
    them means the checks may decide otherwise, so the next `up` does not start early."""
    (tmp_path / "constraints").mkdir()
    (tmp_path / "requirements.txt").write_text("-r constraints/base.txt\n", encoding="utf-8")
    for name in ("constraints/base.txt", "pylock.dev.toml", ".env"):
        (tmp_path / name).write_text("# first\n", encoding="utf-8")
    port = free_port()
    key = request_key(tmp_path, ["up", "--port", str(port)], BASE)
    venv = tmp_path / ".venv"
    paths = depended_on(tmp_path, state, venv, venv / "bin" / "python", str(tmp_path / "model"))
    remember(state, key, _launch(tmp_path, port), BASE, paths)
    assert planned(state, key, BASE) is not None
    (tmp_path / edited).write_text("# edited, longer\n", encoding="utf-8")
    assert planned(state, key, BASE) is None


def test_a_running_up_of_the_project_means_no_early_start(tmp_path: Path, state: Path) -> None:
    from launcher.server.runfile import make_record, write_run

    port = free_port()
    key = request_key(tmp_path, ["up", "--port", str(port)], BASE)
    remember(state, key, _launch(tmp_path, port), BASE, [str(tmp_path / "pyproject.toml")])
    write_run(state, make_record(os.getpid(), f"http://127.0.0.1:{port}", port, ["uvicorn"]))
    assert planned(state, key, BASE) is None


def test_no_record_for_a_random_port_or_a_secret_in_what_would_be_written(
    tmp_path: Path, state: Path
) -> None:
    key = request_key(tmp_path, ["up"], BASE)
    signed = [str(tmp_path / "pyproject.toml")]
    remember(state, key, _launch(tmp_path, 0), BASE, signed)
    assert not (state / RECORD_FILE).exists()
    secret = "sk-live-0123456789abcdef"
    remember(state, key, _launch(tmp_path, free_port(), API_KEY=secret), BASE, signed)
    assert not (state / RECORD_FILE).exists()  # a secret-named variable
    redact.register_secrets([secret])
    try:
        remember(state, key, _launch(tmp_path, free_port(), CONNECT=secret), BASE, signed)
        assert not (state / RECORD_FILE).exists()  # a value known to be secret (.env)
    finally:
        redact._extra.discard(secret)
    remember(state, key, _launch(tmp_path, free_port(), CONNECT="plain"), BASE, signed)
    assert (state / RECORD_FILE).exists()


def test_the_entry_point_finds_the_project_of_an_up_command_line(tmp_path: Path) -> None:
    assert up_project(["up", "-p", str(tmp_path), "--port", "8000"]) == tmp_path
    assert up_project(["-v", "up", f"--project={tmp_path}"]) == tmp_path
    assert up_project(["up", "--port", "8000"]) == Path.cwd()
    assert up_project(["doctor", "-p", str(tmp_path)]) is None
    assert up_project([]) is None


def test_verbosity_does_not_change_the_key_but_any_other_flag_does(tmp_path: Path) -> None:
    key = request_key(tmp_path, ["up", "--port", "8000"], BASE)
    assert request_key(tmp_path, ["-v", "up", "--port", "8000", "-q"], BASE) == key
    assert request_key(tmp_path, ["up", "--port", "8000", "--reload"], BASE) != key
    assert request_key(tmp_path, ["up", "--port", "8000"], dict(BASE, HF_TOKEN="x")) != key
    assert request_key(tmp_path, ["up", "--port", "8000"], dict(BASE, **{SWITCH: "0"})) == key


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROBO_BACKEND_")}
    return dict(env, **extra)


def _probe_threads() -> list[threading.Thread]:
    """The early interpreter probes running now, once those started before have ended."""
    return [t for t in threading.enumerate() if t.name == "probe-python"]


def _settle_probes() -> None:
    for thread in _probe_threads():
        thread.join(timeout=30)


def _remember_a_sleeper(project: Path, args: list[str], env: dict[str, str], port: int) -> None:
    """What a healthy `up` of `args` leaves behind, in the state folder its settings name: a
    record whose backend is a real process (it sleeps instead of serving)."""
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    launch = Launch(sleeper, dict(env), str(project), "127.0.0.1", port)
    state_dir = resolve_settings(project, env=env).state_path
    key = request_key(project, args, env)
    remember(state_dir, key, launch, env, [str(project / "pyproject.toml")])


@pytest.mark.parametrize("moved_by", ["pyproject", "environment"])
def test_a_custom_state_folder_is_where_the_entry_point_looks(
    tmp_path: Path, moved_by: str
) -> None:
    """The record of a project whose state folder is moved (`state_dir` in [tool.robo-backend]
    or ROBO_BACKEND_STATE_DIR) is read from that folder, so its warm `up` starts early."""
    project, env = tmp_path / "project", _environment()
    project.mkdir()
    pyproject = "[project]\nname = 'x'\n"
    if moved_by == "pyproject":
        pyproject += "[tool.robo-backend]\nstate_dir = 'var/state'\n"
    else:
        env["ROBO_BACKEND_STATE_DIR"] = str(tmp_path / "elsewhere")
    (project / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    port = free_port()
    args = ["up", "-p", str(project), "--port", str(port)]
    _remember_a_sleeper(project, args, env, port)
    assert not (project / ".robo-backend").exists()
    start_for_command_line(args, env)
    key, early = take()
    assert key == request_key(project, args, env)
    assert early is not None, "the record in the custom state folder was not found"
    try:
        assert early.popen.poll() is None  # the remembered backend runs
    finally:
        early.abandon()
    assert early.popen.poll() is not None


def test_the_switch_turns_the_entry_point_off(tmp_path: Path, state: Path) -> None:
    """ROBO_BACKEND_FAST_START=0: no early start, no record key (so nothing is remembered), and
    no early interpreter probe on a project without a venv."""
    env = _environment()
    port = free_port()
    args = ["up", "-p", str(tmp_path), "--port", str(port)]
    _remember_a_sleeper(tmp_path, args, env, port)
    _settle_probes()
    start_for_command_line(args, dict(env, **{SWITCH: "0"}))
    assert take() == (None, None)
    assert not _probe_threads()
    start_for_command_line(args, env)  # on: the same record starts its backend
    key, early = take()
    assert key is not None and early is not None
    early.abandon()


def test_only_a_cold_up_without_a_chosen_python_probes_early(tmp_path: Path) -> None:
    """The entry point asks the first python3 on PATH (here a script that leaves a mark and
    takes its time) in a thread, only when the venv step will need it."""
    bin_dir, mark = tmp_path / "bin", tmp_path / "asked"
    bin_dir.mkdir()
    python3 = bin_dir / "python3"
    python3.write_text(
        f'#!/bin/sh\ntouch {mark}\nsleep 1\nexec {sys.executable} "$@"\n', encoding="utf-8"
    )
    python3.chmod(0o755)
    project = tmp_path / "project"
    project.mkdir()
    env = _environment(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    def probes(args: list[str], environ: dict[str, str]) -> bool:
        _settle_probes()
        start_for_command_line(["up", "-p", str(project), *args], environ)
        take()
        running = _probe_threads()
        _settle_probes()
        return bool(running)

    assert not probes(["--python", "3.12"], env)
    assert not probes([], dict(env, ROBO_BACKEND_PYTHON="python3.12"))
    assert probes([], env) and mark.exists()
    (project / ".venv").mkdir()
    (project / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n", encoding="utf-8")
    mark.unlink()
    other = dict(env, CASE="venv")  # not the environment of the answer already kept
    assert not probes([], other) and not mark.exists()
