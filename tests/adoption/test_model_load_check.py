"""The model-load check, with real fastembed releases in real venvs (conftest.py's `matrix`):
doctor's `model-load` loads the model as `up` would run the backend, and `up`'s check beside
the running backend warns loudly when the load fails, remembers a load that worked, and ends
with `up` (its child included) even while the load still hangs."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from pathlib import Path

import pytest

from launcher.checks import DoctorContext
from launcher.checks.model_load import check_model_load
from launcher.fastembed.offline import decide
from launcher.fastembed.probe import describe_models
from launcher.fastembed.trial import RESULT_FILE, load_key, loading_env, remembered_ok
from launcher.up.loadcheck import ModelLoadCheck
from launcher.venvs import VenvInfo, activated_env
from tests.fakehub.fixtures import BGE_MODEL, MINILM_MODEL
from tests.fakehub.server import FakeHub

pytestmark = pytest.mark.e2e


def project_on(venv: Path, tmp_path: Path, fake_hub: FakeHub) -> tuple[Path, Path]:
    """A project whose .venv is `venv`, its model prefetched: (project, cache)."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    (project / ".venv").symlink_to(venv, target_is_directory=True)
    cache = tmp_path / "cache"
    prefetch_for(project, cache, fake_hub)
    return project, cache


def prefetch_for(project: Path, cache: Path, fake_hub: FakeHub) -> None:
    """What `up` and `prefetch` do: the model laid out as the venv's fastembed names it (the
    answer remembered in the state folder, as a warm `up` leaves it), then fetched."""
    from launcher.models.fetch import prefetch
    from launcher.models.options import PrefetchOptions

    venv = project / ".venv"
    names = [BGE_MODEL, MINILM_MODEL]
    state = project / ".robo-backend"
    specs = describe_models(venv, venv / "bin" / "python", names, cache=cache, state_dir=state)
    options = PrefetchOptions(
        model=BGE_MODEL, fallback_model=None, cache=cache, endpoint=fake_hub.url, described=specs
    )
    assert prefetch(options).state == "ready"


def model_load(project: Path, cache: Path, **env: str) -> dict[str, object]:
    environ = {**os.environ, **env}
    context = DoctorContext.build(project, flags={"cache_dir": str(cache)}, env=environ)
    check = check_model_load(context)
    return check.to_json()


def test_doctor_loads_a_hub_first_fastembed_as_up_would_run_it(
    matrix: dict[str, Path], fake_hub: FakeHub, tmp_path: Path
) -> None:
    project, cache = project_on(matrix["0.7.3"], tmp_path, fake_hub)

    online = model_load(project, cache)
    assert online["status"] == "ok", online
    assert "loads with the backend's fastembed 0.7.3 (asking the hub first" in str(
        online["summary"]
    )

    fake_hub.refuse_all()
    offline = model_load(project, cache)
    assert offline["status"] == "fail", offline
    summary = str(offline["summary"])
    assert "the backend's fastembed 0.7.3 cannot load BAAI/bge-small-en-v1.5" in summary
    assert "(offline)" in summary and "Could not load model" in summary
    assert '"fastembed>=0.7.4"' in str(offline["hint"])

    told = model_load(project, cache, HF_HUB_OFFLINE="1")  # the user's own offline wish
    assert told["status"] == "fail" and '"fastembed>=0.7.4"' in str(told["hint"])


def test_doctor_loads_a_current_fastembed_offline(
    matrix: dict[str, Path], fake_hub: FakeHub, tmp_path: Path
) -> None:
    project, cache = project_on(matrix["0.9"], tmp_path, fake_hub)
    fake_hub.refuse_all()
    check = model_load(project, cache)
    assert check["status"] == "ok", check
    assert "(offline," in str(check["summary"])
    details = check["details"]
    assert isinstance(details, dict) and details["dim"] == 384 and details["offline"] is True


def test_doctor_sees_a_cache_laid_out_for_another_fastembed(
    matrix: dict[str, Path], fake_hub: FakeHub, tmp_path: Path
) -> None:
    """The venv now holds fastembed 0.5.1, the cache only 0.9's spelling: the files look fine
    to the model check, but 0.5.1 cannot open them. The load says so; prefetch repairs it."""
    project, cache = project_on(matrix["0.9"], tmp_path, fake_hub)
    (project / ".venv").unlink()
    (project / ".venv").symlink_to(matrix["0.5.1"], target_is_directory=True)
    fake_hub.refuse_all()
    check = model_load(project, cache)
    assert check["status"] == "fail", check
    assert "the backend's fastembed 0.5.1 cannot load" in str(check["summary"])
    assert str(check["hint"]).startswith(f"`robo-backend prefetch -p {project}` re-checks")

    prefetch_for(project, cache, fake_hub)  # copied under 0.5.1's spelling, no download
    relaid = model_load(project, cache)
    assert relaid["status"] == "ok", relaid


def test_doctor_skips_without_a_venv(project: Path, tmp_path: Path) -> None:
    check = model_load(project, tmp_path / "cache")
    assert check["status"] == "ok"
    assert check["summary"] == "model load not tried: no working venv yet (see venv)"


def backend_env_of(venv: Path, cache: Path, offline: bool) -> dict[str, str]:
    base = activated_env(VenvInfo(venv, venv / "bin" / "python", False, "reused", ""), os.environ)
    return loading_env(base, cache, decide("0.7.3", not offline, model=BGE_MODEL))


def load_check(venv: Path, cache: Path, state: Path, env: dict[str, str]) -> ModelLoadCheck:
    key = load_key(venv, BGE_MODEL, None, env)
    return ModelLoadCheck(
        python=venv / "bin" / "python",
        model=BGE_MODEL,
        env=env,
        cwd=state,
        state_dir=state,
        key=key,
        windows=False,
    )


def test_up_warns_loudly_when_the_backend_cannot_load_its_model(
    matrix: dict[str, Path],
    fake_hub: FakeHub,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from launcher.ui import console

    console.reset_console()
    venv = matrix["0.7.3"]
    project, cache = project_on(venv, tmp_path, fake_hub)
    state = project / ".robo-backend"
    env = backend_env_of(venv, cache, offline=True)
    check = load_check(venv, cache, state, env)
    check.on_ready("http://127.0.0.1:1", 1)
    assert check.wait(120)
    assert check.result is not None and not check.result.ok
    err = capsys.readouterr().err
    assert "warning: the backend is up, but its fastembed 0.7.3 cannot load" in err
    assert "every use of the model will fail" in err
    assert '"fastembed>=0.7.4"' in err
    assert not (state / RESULT_FILE).exists(), "a failed load is checked again next time"

    online = backend_env_of(venv, cache, offline=False)
    again = load_check(venv, cache, state, online)
    again.on_ready()
    assert again.wait(120)
    assert again.result is not None and again.result.ok
    assert "model check: BAAI/bge-small-en-v1.5 loads" in capsys.readouterr().err
    assert remembered_ok(state, again.key)
    assert not remembered_ok(state, check.key), "another environment is another check"


class BlackHole:
    """A loopback "hub" that accepts connections and never answers (and says when one came)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connected = threading.Event()
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.sock.accept()
                self.held.append(conn)
                self.connected.set()

    def close(self) -> None:
        for conn in [*self.held, self.sock]:
            conn.close()


def test_up_ends_the_check_with_itself_even_while_the_load_hangs(
    matrix: dict[str, Path], fake_hub: FakeHub, tmp_path: Path
) -> None:
    venv = matrix["0.7.3"]
    project, cache = project_on(venv, tmp_path, fake_hub)
    hole = BlackHole()  # fastembed 0.7.3 asks the hub first, and this hub never answers
    try:
        env = {**backend_env_of(venv, cache, offline=False), "HF_ENDPOINT": hole.url}
        check = load_check(venv, cache, project / ".robo-backend", env)
        check.on_ready()
        assert hole.connected.wait(60), "the load never reached the hub"
        child = check._child
        assert child is not None and child.poll() is None
        check.stop()
        assert child.poll() is not None, "the child ends with `up`"
        assert check.wait(1), "and so does the thread"
        assert check.result is None, "nothing is said once `up` ends"
    finally:
        hole.close()
