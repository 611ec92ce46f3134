"""The README's loopback demo, run as written: the hub from a plain install (no test extras),
`up` against it with the recipe's own cache, nothing in the user's real cache, and `doctor`
showing where the cached model came from (and flagging it against another endpoint)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.cli import CLI
from tests.helpers.up_run import UpRun, free_port, launcher_env

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / "README.md"
BGE_MODEL = "BAAI/bge-small-en-v1.5"
# What a plain install (`pip install -e .`, the README's first command) lacks: the test extras.
TEST_EXTRAS = ("pytest", "onnx", "tokenizers", "numpy", "_pytest")
WITHOUT_TEST_EXTRAS = (
    "import runpy, sys\n"
    f"for name in {TEST_EXTRAS!r}:\n"
    "    sys.modules[name] = None  # importing it raises ImportError, as in a plain install\n"
    "sys.argv[0] = 'tests.fakehub'\n"
    "runpy.run_module('tests.fakehub', run_name='__main__', alter_sys=True)\n"
)


def demo_commands() -> tuple[list[str], list[str], dict[str, str]]:
    """The README's demo block: (hub argv, up argv, up's environment assignments)."""
    text = README.read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```bash\n(.*?)```", text, re.S) if "tests.fakehub" in b]
    assert len(blocks) == 1, "the README has no (or more than one) loopback demo block"
    lines = [line.split("#", 1)[0].strip() for line in blocks[0].splitlines()]
    hub_line, up_line = [line for line in lines if line]
    assert hub_line.endswith("&")
    hub = shlex.split(hub_line[:-1])
    words = shlex.split(up_line)
    assignments = dict(word.split("=", 1) for word in words if re.match(r"^[A-Z_]+=", word))
    up = [word for word in words if not re.match(r"^[A-Z_]+=", word)]
    return hub, up, assignments


@pytest.fixture
def demo_hub(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """The hub as the recipe starts it, with the test extras made unimportable; (url, argv)."""
    hub_argv, _, _ = demo_commands()
    assert hub_argv[:3] == [".venv/bin/python", "-m", "tests.fakehub"]
    args = hub_argv[3:]
    args[args.index("--port") + 1] = "0"  # the recipe's 8900 may be taken on a test machine
    proc = subprocess.Popen(
        [sys.executable, "-c", WITHOUT_TEST_EXTRAS, *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.communicate(timeout=10)
        yield url, hub_argv
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_readme_demo_runs_from_a_plain_install_and_keeps_the_user_cache_clean(
    demo_hub: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, _ = demo_hub
    _, up_argv, assignments = demo_commands()
    assert assignments == {"HF_ENDPOINT": "http://127.0.0.1:8900"}
    assert up_argv[:2] == [".venv/bin/robo-backend", "up"]
    workdir = tmp_path / "checkout"  # the recipe runs from the repo root: a copy of what it uses
    shutil.copytree(
        REPO_ROOT / "examples" / "textbook-backend",
        workdir / "examples" / "textbook-backend",
        ignore=shutil.ignore_patterns(".venv*", ".robo-backend", "__pycache__"),
    )
    user_cache = tmp_path / "user-cache"  # the user's real cache folder (XDG_CACHE_HOME)
    env = launcher_env(
        url,
        str(tmp_path / "logs"),
        XDG_CACHE_HOME=str(user_cache),
        TMPDIR=str(tmp_path / "tmp"),
    )
    (tmp_path / "tmp").mkdir()
    args = [*up_argv[1:], "--port", str(free_port())]  # 8000 may be taken on a test machine

    run = UpRun(args, env, cwd=str(workdir))
    try:
        run.ready_url(timeout=600)
        code, survivors = run.interrupt()
    finally:
        run.kill()

    assert code == 130 and survivors == [], run.output
    demo_cache = workdir / up_argv[up_argv.index("--cache-dir") + 1]
    assert list(demo_cache.glob("models--*")), run.output
    assert not list(user_cache.rglob("models--*"))  # nothing landed in the real cache

    project = ["-p", str(workdir / "examples" / "textbook-backend")]
    here = _doctor(project + ["--cache-dir", str(demo_cache)], env, workdir)
    model = here[f"model:{BGE_MODEL}"]
    assert model["status"] == "ok", model
    source = model["details"]["source"]
    assert source["endpoint"] == url and source["how"] == "download" and source["commit"]
    assert url in model["summary"]

    elsewhere = dict(env)
    elsewhere.pop("HF_ENDPOINT")  # the real hub is the current endpoint now
    there = _doctor(project + ["--cache-dir", str(demo_cache)], elsewhere, workdir)
    flagged = there[f"model:{BGE_MODEL}"]
    assert flagged["status"] == "warn"
    assert (
        f"fetched from {url}, not from the current endpoint https://huggingface.co"
        in (flagged["summary"])
    )


def _doctor(args: list[str], env: dict[str, str], cwd: Path) -> dict[str, dict]:
    done = CLI("doctor", "--json", *args, base=env, env={"PYTHONPATH": str(REPO_ROOT)}, cwd=cwd)
    document = json.loads(done.stdout)
    checks = document["checks"] if isinstance(document, dict) else document
    return {check["id"]: check for check in checks}


def test_the_demo_hub_imports_nothing_from_the_test_extras() -> None:
    code = (
        "import sys\n"
        "import tests.fakehub.__main__\n"
        f"print(sorted(m for m in {TEST_EXTRAS!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert os.path.isdir(REPO_ROOT / "tests" / "fakehub" / "prebuilt")
