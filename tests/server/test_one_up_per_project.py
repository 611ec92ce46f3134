"""One project, one running `up`: two real `up` of one project at once, many rounds.

Each round starts two `up` together (the second while the first sets up, the one started
first alternating), then a third once the winner serves: exactly one serves, the others exit 1
naming it (its pid, its URL once it serves), `status --json` names the winner, and when the
winner is stopped nothing of any of them is left running. Ten rounds on a fixed port (where a
warm `up` starts its backend early, before its checks) and ten with `--port 0`.

Real processes throughout: `python -m launcher up`, a tiny FastAPI app in a venv `up` made
once for the module (once per test worker), the embedding model from the loopback fake hub
(prefetched once). Each round is its own test, so parallel workers share the rounds out.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from tests.fakehub.fixtures import serve_standard_models
from tests.fakehub.server import FakeHub
from tests.fakehub.standard import shipped_models
from tests.helpers.cli import CLI
from tests.helpers.up_run import UpRun, free_port, launcher_env
from tests.processes import alive, kill_all

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals end the rounds"),
]

ROUNDS = 10
COLD = 600.0  # the module's first `up`: venv, dependencies, model
WAIT = 120.0  # any later step of a round
# Read at import, before the isolation fixture points HOME into tmp: uv's real cache is shared.
UV_CACHE = os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv")

APP = """\
from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
"""


@dataclass
class Project:
    """The module's project, its launcher environment and the `up` arguments it always gets."""

    path: Path
    env: dict[str, str]
    cache: Path
    port: int  # the fixed port of the fixed-port rounds
    launched: list[UpRun] = field(default_factory=list)

    def up(self, port: int) -> UpRun:
        args = ["up", "-p", str(self.path), "--port", str(port), "--cache-dir", str(self.cache)]
        run = UpRun(args, self.env)
        self.launched.append(run)
        return run

    def status(self) -> dict[str, object]:
        done = CLI("status", "-p", str(self.path), "--json", base=self.env, timeout=WAIT)
        document = json.loads(done.stdout)
        assert isinstance(document, dict), done.stdout
        return document


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """A tiny FastAPI project whose venv, dependencies and model one warm-up `up` prepared (on
    the fixed port, so later `up` on that port start their backend early)."""
    root = tmp_path_factory.mktemp("one-up")
    folder = root / "tiny app"
    folder.mkdir()
    (folder / "pyproject.toml").write_text(
        '[project]\nname = "tiny"\nversion = "0"\ndependencies = ["fastapi", "uvicorn"]\n',
        encoding="utf-8",
    )
    (folder / "main.py").write_text(APP, encoding="utf-8")
    home = root / "home"
    with FakeHub() as hub:
        serve_standard_models(hub, shipped_models())
        env = launcher_env(hub.url, str(root / "logs"), UV_CACHE_DIR=UV_CACHE, HOME=str(home))
        for name in ("XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME"):
            env.pop(name, None)
        prepared = Project(folder, env, root / "models", free_port())
        try:
            warm_up = prepared.up(prepared.port)
            warm_up.ready_url(COLD)
            assert warm_up.stop() == 130, warm_up.output
            yield prepared
        finally:
            for run in prepared.launched:
                run.kill()
            kill_all(project_processes(folder))


def project_processes(folder: Path) -> list[psutil.Process]:
    """Processes running from the project's venv (its backends), whoever started them."""
    venv = str(folder / ".venv")
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if any(venv in arg for arg in process.cmdline()):
                found.append(process)
    return found


def winner_of(first: UpRun, second: UpRun) -> tuple[UpRun, UpRun, str]:
    """(the one that serves, the one that exited, the URL): waits until one printed its ready
    line and the other exited; fails with both outputs otherwise."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        exited = [run for run in (first, second) if run.proc.poll() is not None]
        ready = [run for run in (first, second) if any("Backend ready at" in x for x in run.lines)]
        if len(exited) == 2 or len(ready) == 2:
            break
        if len(exited) == 1 and ready and ready[0] is not exited[0]:
            return ready[0], exited[0], ready[0].ready_url(WAIT)
        time.sleep(0.1)
    pytest.fail(
        f"not one serving and one refused:\n--- first\n{first.output}\n--- second\n{second.output}"
    )


def error_line(run: UpRun) -> str:
    return next((line for line in run.lines if line.startswith("error:")), run.output)


def play_round(project: Project, port: int, swap: bool) -> None:
    one, two = project.up(port), project.up(port)  # the second while the first sets up
    if swap:
        one, two = two, one
    winner, loser, url = winner_of(one, two)
    tree = winner.tree()
    assert loser.proc.wait(timeout=WAIT) == 1, loser.output
    said = error_line(loser)
    assert f"pid {winner.proc.pid}" in said, loser.output
    assert "Backend ready" not in loser.output

    late = project.up(port)  # after the winner serves
    assert late.proc.wait(timeout=WAIT) == 1, late.output
    said = error_line(late)
    assert f"already running at {url}" in said and f"pid {winner.proc.pid}" in said, late.output

    status = project.status()
    assert status["running"] is True and status["url"] == url, status
    assert status["launcher_pid"] == winner.proc.pid, status
    assert status["health"] == {"url": url + "/health", "status": 200, "ok": True}, status

    assert winner.stop() == 130, winner.output
    deadline = time.monotonic() + 10
    while (alive(tree) or project_processes(project.path)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive(tree) == [] and project_processes(project.path) == [], "orphans left"
    assert not (project.path / ".robo-backend" / "run.json").exists()  # the winner's, removed


@pytest.mark.parametrize("number", range(ROUNDS), ids=lambda n: f"round-{n}")
@pytest.mark.parametrize("fixed", [True, False], ids=["fixed-port", "port-0"])
def test_two_up_on_one_project_exactly_one_serves(
    project: Project, fixed: bool, number: int
) -> None:
    """One round; the rounds are separate tests so parallel workers share them out."""
    play_round(project, project.port if fixed else 0, swap=number % 2 == 1)
