"""Messages that send the user the right way: `-h` is help, hints name the command as it was
run, `prefetch` speaks of itself, `clear-cache --help` shows no default it does not have, a
`pyproject.toml` that is a folder is named, and a degraded ready line says it is degraded."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from launcher.ui import console

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*args: str, cwd: Path = REPO_ROOT, argv0: list[str] | None = None, **env: str) -> Any:
    base = {**os.environ, "NO_COLOR": "1", "HF_HUB_OFFLINE": "1", **env}
    return subprocess.run(
        [*(argv0 or [sys.executable, "-m", "launcher"]), *args],
        capture_output=True,
        text=True,
        env=base,
        cwd=cwd,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("args", [["-h"], ["up", "-h"], ["clear-cache", "-h"]])
def test_dash_h_is_help(args: list[str]) -> None:
    done = _run(*args)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: ") and "No such option" not in done.stderr


def test_clear_cache_help_shows_no_default_model() -> None:
    done = _run("clear-cache", "--help")
    model = done.stdout[done.stdout.index("--model") : done.stdout.index("--broken")]
    assert "[default:" not in model and "every model" in model


def test_a_pyproject_toml_that_is_a_folder_is_named_not_ignored(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").mkdir()
    (tmp_path / "main.py").write_text("from fastapi import FastAPI\napp = FastAPI()\n")
    for command in (["up", "--port", "0"], ["prefetch"]):
        done = _run(*command, "-p", str(tmp_path))
        assert done.returncode == 2, done.stderr
        assert f"error: {tmp_path / 'pyproject.toml'} is a folder, not a file" in done.stderr
    assert not (tmp_path / ".venv").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths")
def test_the_command_is_named_as_it_was_run(tmp_path: Path) -> None:
    script = BIN / "robo-backend"
    if not script.exists():
        pytest.skip("the robo-backend console script is not installed next to this Python")
    venv_root = BIN.parent
    relative = f"{BIN.name}/robo-backend"  # typed as a path, from the venv's folder

    done = _run("activate", "-p", str(tmp_path), "--shell", "bash", cwd=venv_root, argv0=[relative])

    assert done.returncode == 1
    assert f"hint: Run `{relative} up`" in done.stderr, done.stderr
    assert console.command_name(relative) == relative
    assert console.command_name(str(tmp_path / "x" / "robo-backend"), str(tmp_path)) == (
        os.path.join("x", "robo-backend")
    )
    assert console.command_name("/nowhere/robo-backend", str(tmp_path)) == "/nowhere/robo-backend"
    assert console.command_name("robo-backend") == "robo-backend"
    assert console.command_name("/x/launcher/__main__.py").endswith(" -m launcher")


def test_prefetch_speaks_of_itself_when_it_ends_without_a_model(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    with_closed = {"HF_HUB_OFFLINE": "", "HF_ENDPOINT": "http://127.0.0.1:9"}

    done = _run(
        "prefetch", "-p", str(project), "--cache-dir", str(tmp_path / "cache"), **with_closed
    )

    assert done.returncode == 0, done.stderr
    warning = next(line for line in done.stderr.splitlines() if "NO EMBEDDING MODEL" in line)
    assert "Run this command again once the hub is reachable" in warning
    assert "prefetch`" not in warning and "the backend will start" not in warning


def test_a_degraded_ready_line_says_degraded(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    from launcher.up.view import ConsoleEvents

    out = io.StringIO()
    monkeypatch.setattr(console, "_console", Console(file=out, highlight=False, soft_wrap=True))
    ConsoleEvents(degraded=True).ready("http://127.0.0.1:8000", 7)
    ConsoleEvents().ready("http://127.0.0.1:8000", 8)
    degraded, ready = out.getvalue().splitlines()
    assert degraded.startswith(console.symbol("warn") + " Backend ready at http://127.0.0.1:8000")
    assert "DEGRADED mode: no embedding model" in degraded
    assert ready == f"{console.symbol('ok')} Backend ready at http://127.0.0.1:8000 (pid 8)"


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX pipe closed under the writer")
def test_a_pipe_closed_during_set_up_is_a_hangup_and_is_logged(tmp_path: Path) -> None:
    """`up 2>&1 | head -1`: the reader goes away after one line. That is a hangup (129), said
    in the log file, not an exit 1 with nothing anywhere."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "main.py").write_text("from fastapi import FastAPI\napp = FastAPI()\n")
    logs = tmp_path / "logs"
    env = {**os.environ, "NO_COLOR": "1", "HF_HUB_OFFLINE": "1", "ROBO_BACKEND_LOG_DIR": str(logs)}
    child = subprocess.Popen(
        [sys.executable, "-m", "launcher", "up", "-p", str(project), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    try:
        assert child.stdout is not None
        first = child.stdout.readline()  # like `head -1`: one line, then the pipe is closed
        child.stdout.close()
        code = child.wait(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
    assert b"settings resolved" in first
    assert code == 129
    log = (logs / "robo-backend.log").read_text(encoding="utf-8")
    assert "the terminal or pipe of the output was closed" in log
    assert "internal error" not in log


@pytest.mark.parametrize("doc", ["README.md", "docs/supervision.md", "docs/adoption.md"])
def test_the_docs_give_the_app_candidates_in_the_order_the_code_follows(doc: str) -> None:
    import re

    from launcher.discover.apps import CANDIDATE_FILES

    text = (REPO_ROOT / doc).read_text(encoding="utf-8")
    listings = [
        [name.strip("`") for name in re.findall(r"`?([\w/]+\.py)`?", paragraph)]
        for paragraph in re.split(r"\n\s*\n", text)
        if "main.py" in paragraph and "api.py" in paragraph
    ]
    assert listings, f"{doc} lists no app candidates"
    for found in listings:
        names = [name for name in found if name in CANDIDATE_FILES]
        ordered = [name for name in CANDIDATE_FILES if name in names]
        assert names == ordered, f"{doc}: {names} is not in the order {list(CANDIDATE_FILES)}"
        assert len(names) == len(CANDIDATE_FILES), f"{doc} leaves candidates out: {names}"


def test_the_loopback_demo_follows_the_two_opening_commands() -> None:
    """The one thing a user without hub access can run is not buried at the end."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    opening = text.index(".venv/bin/python -m pytest")  # the second opening command
    demo = text.index("-m tests.fakehub --port 8900 --serve-standard")
    assert opening < demo < text.index("\n---\n") < text.index("\n## ")
