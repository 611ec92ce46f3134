"""Step lines: a failed or warning step never reads as passed.

The label is the step's name; the mark and the detail say how it went. Real `up` runs that
stop in their first steps (no venv is made), and the warning shape through console.step.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from launcher.ui import console
from tests.helpers.cli import CLI

SUCCESS_WORDS = ("resolved", "passed", "ready", "in sync", "activated", " ok", "succeeded", "done")


def marked_lines(text: str, mark: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(mark)]


def assert_no_success_word(lines: list[str]) -> None:
    assert lines, "expected at least one such line"
    for line in lines:
        for word in SUCCESS_WORDS:
            assert word not in line, f"{line!r} reads as a success ({word!r})"


def run_up(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"HF_HUB_OFFLINE": "1", "ROBO_BACKEND_LOG_DIR": str(cwd / "logs")}
    return CLI("up", *args, env=env, cwd=cwd)


def test_failed_settings_and_pre_flight_steps_do_not_read_as_passed(tmp_path: Path) -> None:
    missing = run_up("-p", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert missing.returncode == 2, missing.stderr
    failed = marked_lines(missing.stderr, "✗")
    assert failed[0].startswith("✗ settings  failed"), failed
    assert_no_success_word(failed)

    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "0"\n')
    (project / "main.py").write_text("from fastapi import FastAPI\napp = FastAPI()\n")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        taken = run_up("-p", str(project), "--port", str(port), "--offline", cwd=tmp_path)
    assert taken.returncode == 1, taken.stderr
    assert "✓ settings resolved" in taken.stderr  # a step that went well still says so
    failed = marked_lines(taken.stderr, "✗")
    assert failed[0].startswith("✗ pre-flight checks  failed"), failed
    assert_no_success_word(failed)


def test_a_warning_step_is_named_not_passed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    console.reset_console()
    with console.step("model", "model ready") as current:
        current.detail = "no model: the backend runs DEGRADED (search answers 503)"
        current.status = "warn"
    with console.step("venv", "venv ready") as current:
        current.detail = "reused"
    err = capsys.readouterr().err
    warned = marked_lines(err, "!")
    assert warned and warned[0].startswith("! model  no model"), err
    assert_no_success_word(warned)
    assert marked_lines(err, "✓")[0].startswith("✓ venv ready  reused")
