"""The per-project environment lock: two set-ups released together, a holder that died.

Real processes (tests/helpers/envstep.py, the environment step of `up`), real uv, real venvs;
packages come from a local wheel folder, so the race is about the lock, not the network.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from launcher.venvs.project_lock import env_lock, read_holder, stale_holder
from tests.helpers.venvs import base_python
from tests.helpers.wheels import make_wheel

ROUNDS = 3
REPO = Path(__file__).resolve().parents[2]


def start(project: Path, env: dict[str, str], go: Path | None = None) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "tests.helpers.envstep", str(project)]
    return subprocess.Popen(
        argv + ([str(go)] if go else []),
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def read_until(child: subprocess.Popen[str], text: str, timeout: float = 60) -> str:
    """The child's output up to the line holding `text` (bounded; the output so far in the
    failure otherwise). Read from the pipe itself: `communicate` reads the rest later."""
    assert child.stdout is not None
    fd, seen = child.stdout.fileno(), b""
    deadline = time.monotonic() + timeout
    while text.encode() not in seen or not seen.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(fd, 65536) if ready else b""
        assert chunk, f"{text!r} not said in time; output so far:\n{seen.decode()}"
        seen += chunk
    return seen.decode()


@pytest.fixture
def offline(tmp_path: Path) -> dict[str, str]:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels, "tinydep", "1.0")
    return dict(os.environ, UV_OFFLINE="1", UV_FIND_LINKS=str(wheels), UV_PYTHON=base_python())


def test_two_setups_released_together_both_succeed_on_one_intact_venv(
    tmp_path: Path, offline: dict[str, str]
) -> None:
    for round_ in range(ROUNDS):
        project = tmp_path / f"app{round_}"
        project.mkdir()
        (project / "pyproject.toml").write_text(
            '[project]\nname = "app"\nversion = "0"\ndependencies = ["tinydep==1.0"]\n'
        )
        go = tmp_path / f"go{round_}"
        children = [start(project, offline, go) for _ in range(2)]
        said = [read_until(child, "READY") for child in children]  # both wait at the barrier
        go.touch()
        outputs = [
            s + child.communicate(timeout=180)[0] for s, child in zip(said, children, strict=True)
        ]
        assert [child.returncode for child in children] == [0, 0], outputs
        methods = sorted(line for out in outputs for line in out.splitlines() if "VENV" in line)
        assert methods[0].startswith("VENV created with uv"), outputs
        assert methods[1] == "VENV reused .venv", outputs  # never deleted or made twice
        deps = [line for out in outputs for line in out.splitlines() if line.startswith("DEPS")]
        assert sum("installed with uv" in line for line in deps) == 1, outputs
        assert sum("in sync" in line for line in deps) == 1, outputs
        done = subprocess.run(
            [str(project / ".venv" / "bin" / "python"), "-c", "import tinydep"],
            timeout=60,
            check=False,
        )
        assert done.returncode == 0


def test_a_waiting_setup_names_the_holder(tmp_path: Path, offline: dict[str, str]) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "0"\n')
    state = project / ".robo-backend"
    with env_lock(state, "a test holding the lock"):
        child = start(project, offline)
        said = read_until(child, "waiting for pid")
        assert child.poll() is None  # it waits
    output = said + child.communicate(timeout=120)[0]
    assert child.returncode == 0, output
    assert f"waiting for pid {os.getpid()} (a test holding the lock" in output
    assert "VENV created with uv" in output


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_lock_whose_holder_died_is_stale_and_taken_over(tmp_path: Path) -> None:
    state = tmp_path / "state"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path\n"
            "from launcher.venvs.project_lock import env_lock\n"
            "with env_lock(Path(sys.argv[1]), 'installing dependencies'):\n"
            "    print('held', flush=True); time.sleep(60)\n",
            str(state),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    assert stale_holder(state) is None  # alive and holding
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    stale = stale_holder(state)
    assert stale is not None and stale.pid == holder.pid and not stale.alive
    assert stale.purpose == "installing dependencies"
    started = time.monotonic()
    with env_lock(state, "up"):
        assert time.monotonic() - started < 5
        mine = read_holder(state)
        assert mine is not None and mine.pid == os.getpid()
    assert read_holder(state) is None  # released: no holder left behind
