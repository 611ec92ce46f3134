"""Helpers for the venv, shell code and launch-strategy tests: interpreters, venvs, tool folders.

Tools are found through `PlatformFacts.env["PATH"]` (and next to `facts.executable`), so a
test decides which creators can run by building a folder that holds only the tools it wants.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from launcher.platform import PlatformFacts
from launcher.venvs import VenvInfo, ensure_venv

SYSTEM_DIRS = ("/usr/bin", "/bin")


def base_python() -> str:
    """The real interpreter behind the test venv (what a user's `python3` would be)."""
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def tool(name: str) -> str | None:
    """A tool from the test environment: on PATH or next to the test interpreter."""
    found = shutil.which(name)
    if found:
        return found
    exe = name + (".exe" if sys.platform == "win32" else "")
    candidate = Path(sys.executable).parent / exe
    return str(candidate) if candidate.is_file() else None


def tools_dir(root: Path, *names: str) -> Path:
    """A folder holding links to exactly `names` (uv, virtualenv, …): a PATH entry."""
    folder = root / ("tools-" + "-".join(names or ("none",)))
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        found = tool(name)
        if found is None:
            pytest.skip(f"{name} is not installed in the test environment")
        link = folder / Path(found).name
        if not link.exists():
            os.symlink(found, link)
    return folder


def host_facts(*path_dirs: Path | str, executable: str = "", **env: str) -> PlatformFacts:
    """Facts of this machine with a PATH made of `path_dirs` then /usr/bin:/bin."""
    base = {k: v for k, v in os.environ.items() if k not in {"PATH", "VIRTUAL_ENV"}}
    base["PATH"] = os.pathsep.join([*(str(p) for p in path_dirs), *SYSTEM_DIRS])
    base.update(env)
    return PlatformFacts(sys.platform, base, ("bash",), "", executable)


def make_partial_python(dest: Path, omit: tuple[str, ...]) -> str:
    """A real interpreter whose standard library lacks `omit` (e.g. ensurepip, as on Debian
    without python3-venv): the binary copied, every other stdlib entry symlinked."""
    if not sys.platform.startswith("linux"):
        pytest.skip("partial interpreter trees are built on Linux only")
    real = base_python()
    stdlib = Path(sysconfig.get_paths(vars={"base": sys.base_prefix})["stdlib"])
    name = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    (dest / "bin").mkdir(parents=True)
    lib = dest / "lib" / name
    lib.mkdir(parents=True)
    shutil.copy2(real, dest / "bin" / name)
    for entry in stdlib.iterdir():
        if entry.name in omit or entry.name in {"site-packages", "dist-packages"}:
            continue
        os.symlink(entry, lib / entry.name)
    python = dest / "bin" / name
    check = subprocess.run(
        [str(python), "-c", "import sys; print(sys.prefix)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check.returncode != 0 or Path(check.stdout.strip()) != dest:
        pytest.skip(f"cannot build a relocated copy of {real}: {check.stderr.strip()[-200:]}")
    return str(python)


@pytest.fixture
def log_messages() -> Iterator[list[str]]:
    """Everything loguru logs during the test (levels included, e.g. 'WARNING: …')."""
    messages: list[str] = []
    sink = logger.add(lambda m: messages.append(f"{m.record['level'].name}: {m.record['message']}"))
    yield messages
    logger.remove(sink)


@pytest.fixture(scope="session")
def uv_venv(tmp_path_factory: pytest.TempPathFactory) -> VenvInfo:
    """One real venv made by uv, shared by the tests that only read it."""
    if tool("uv") is None:
        pytest.skip("uv is not installed in the test environment")
    root = tmp_path_factory.mktemp("shared")
    project = root / "project"
    project.mkdir()
    facts = (
        host_facts(tools_dir(root, "uv")) if sys.platform != "win32" else PlatformFacts.current()
    )
    return ensure_venv(project, Path(".venv"), base_python(), facts, creators=("uv",))


@pytest.fixture(scope="session")
def weird_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose path has spaces, both quotes, `(x86)`, `%`, `$`, `&` and non-ASCII."""
    name = 'it\'s "q" & 100% $HOME ü' if sys.platform != "win32" else "it's & 100% $HOME ü"
    folder = tmp_path_factory.mktemp("weird") / "Program Files (x86)" / name
    folder.mkdir(parents=True)
    return folder


@pytest.fixture(scope="session")
def weird_venv(weird_root: Path, tmp_path_factory: pytest.TempPathFactory) -> VenvInfo:
    """A real uv venv inside `weird_root`."""
    if tool("uv") is None:
        pytest.skip("uv is not installed in the test environment")
    project = weird_root / "project"
    project.mkdir()
    root = tmp_path_factory.mktemp("weird-tools")
    facts = (
        host_facts(tools_dir(root, "uv")) if sys.platform != "win32" else PlatformFacts.current()
    )
    return ensure_venv(project, Path(".venv"), base_python(), facts, creators=("uv",))


@pytest.fixture
def venv_python(tmp_path: Path) -> Path:
    """A fresh, empty venv made by the bundled uv (so it has no pip), for one test; its python."""
    uv = Path(sys.executable).parent / ("uv.exe" if sys.platform == "win32" else "uv")
    venv = tmp_path / "venv"
    subprocess.run(
        [str(uv), "venv", "--quiet", "--python", sys.executable, str(venv)],
        check=True,
        timeout=120,
        env=dict(os.environ, UV_OFFLINE="1"),
    )
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
