"""The early start's record: what it keeps, when it predicts a start, what it never writes.

Real files in a temp folder and real sockets; the end-to-end runs (started early, confirmed,
not confirmed, interrupted) are in tests/e2e/test_up.py.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from launcher import redact
from launcher.up.early import (
    RECORD_FILE,
    RUN_FILE,
    STATE_DIR,
    SWITCH,
    Launch,
    apply_changes,
    env_changes,
    planned,
    remember,
    request_key,
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
    assert planned(state, key, BASE) == launch
    assert planned(state, key, dict(BASE, **{SWITCH: "0"})) is None  # switched off
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


def test_the_file_names_match_the_modules_that_own_them() -> None:
    from launcher.server.runfile import RUN_FILE as OWNED_RUN_FILE
    from launcher.settings import STATE_DIR as OWNED_STATE_DIR

    assert (RUN_FILE, STATE_DIR) == (OWNED_RUN_FILE, OWNED_STATE_DIR)


def test_only_a_cold_up_without_a_chosen_python_probes_early(tmp_path: Path) -> None:
    from launcher.up.early import _no_venv_yet

    assert _no_venv_yet(tmp_path, ["up"], BASE)
    assert not _no_venv_yet(tmp_path, ["up", "--python", "3.12"], BASE)
    assert not _no_venv_yet(tmp_path, ["up"], dict(BASE, ROBO_BACKEND_PYTHON="python3.12"))
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n", encoding="utf-8")
    assert not _no_venv_yet(tmp_path, ["up"], BASE)
