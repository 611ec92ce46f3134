"""The CMD text run by a real cmd.exe: wine's, in a temporary prefix shared by the session.

Generated with injected Windows facts, for venvs whose paths cmd finds hard (spaces, `(x86)`,
`&`, `^`, `'`, a user name with ü), then evaluated the way `--help` says and the variables
read back with `set`. wine's cmd does not split a `for /f` variable into a command and its
arguments the way Windows' cmd does, so the lines are run through `call`; for paths without
`%` that evaluates them the same. Also the `cmd` launch strategy's command line, with `echo`
in place of the interpreter. Skipped, with the reason, where wine is not installed (.ci/run
installs wine64).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath

import pytest

from launcher.platform import PlatformFacts
from launcher.shells.strategies import ActivationResult, wrap_argv
from launcher.shells.text import activation_script

HARD_PATHS = [
    "C:\\Program Files (x86)\\it's a proj & co\\.venv",
    "C:\\Users\\Jürgen Müller\\proj ^1 (copy)\\.venv",
]
BASE_PATH = "C:\\windows\\system32;C:\\windows;C:\\Program Files (x86)\\Tools & More"
# CPython's Lib/venv/scripts/nt/deactivate.bat (venv, virtualenv and uv write the same logic).
DEACTIVATE_BAT = """@echo off

if defined _OLD_VIRTUAL_PROMPT (
    set "PROMPT=%_OLD_VIRTUAL_PROMPT%"
)
set _OLD_VIRTUAL_PROMPT=

if defined _OLD_VIRTUAL_PYTHONHOME (
    set "PYTHONHOME=%_OLD_VIRTUAL_PYTHONHOME%"
    set _OLD_VIRTUAL_PYTHONHOME=
)

if defined _OLD_VIRTUAL_PATH (
    set "PATH=%_OLD_VIRTUAL_PATH%"
)

set _OLD_VIRTUAL_PATH=

set VIRTUAL_ENV=
set VIRTUAL_ENV_PROMPT=

:END
"""


def _find_wine() -> tuple[str, str] | None:
    for folder in [*os.environ.get("PATH", "").split(os.pathsep), "/usr/lib/wine"]:
        wine, server = Path(folder, "wine64"), Path(folder, "wineserver")
        if wine.is_file() and os.access(wine, os.X_OK):
            found = server if server.is_file() else Path(folder, "wineserver64")
            return str(wine), str(found if found.is_file() else shutil.which("wineserver") or "")
    return None


@dataclass
class Wine:
    """A wine prefix with a persistent wineserver: `run` executes a cmd line in it."""

    wine: str
    prefix: Path
    env: dict[str, str]

    @property
    def drive_c(self) -> Path:
        return self.prefix / "drive_c"

    def unix(self, windows_path: str) -> Path:
        """Where a `C:\\…` path of the prefix is on this machine."""
        parts = PureWindowsPath(windows_path).parts[1:]
        return self.drive_c.joinpath(*parts)

    def run(self, *args: str) -> str:
        """stdout of `wine64 args…`; through a file, since wine's helper processes inherit
        (and keep open) any pipe."""
        out = self.prefix / "stdout.txt"
        with open(out, "wb") as handle:
            subprocess.run(
                [self.wine, *args],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.DEVNULL,
                timeout=120,
                check=False,
            )
        return out.read_bytes().decode("utf-8", errors="replace").replace("\r\n", "\n")


@pytest.fixture(scope="session")
def wine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wine]:
    found = _find_wine()
    if found is None:
        pytest.skip(
            "wine64 is not installed (Debian: apt-get install --no-install-recommends wine64)"
        )
    wine_exe, server = found
    prefix = tmp_path_factory.mktemp("wineprefix")
    env = {
        "WINEPREFIX": str(prefix),
        "WINEDEBUG": "-all",
        "HOME": str(prefix),
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
    }
    if server:  # one wineserver for the tests: later starts take ~0.5 s instead of ~7 s; it
        # ends by itself 30 s after its last client, even if this session is killed
        subprocess.run([server, "-p30"], env=env, timeout=60, check=False)
    box = Wine(wine_exe, prefix, env)
    try:
        if "ready" not in box.run("cmd", "/c", "echo ready"):
            pytest.skip("wine could not start cmd in a fresh prefix")
        yield box
    finally:  # every wine process of the prefix ends with its server
        if server:
            subprocess.run([server, "-k"], env=env, timeout=60, check=False)


def _windows_facts() -> PlatformFacts:
    return PlatformFacts("win32", {"PATH": BASE_PATH, "USERNAME": "Jürgen"}, ("cmd.exe",))


def _evaluate(wine: Wine, text: str, after: str = "") -> dict[str, str]:
    """Evaluate activation `text` the way the usage line does, then `after`; the variables."""
    (wine.drive_c / "act.txt").write_text(text.replace("\n", "\r\n"), encoding="utf-8")
    batch = (
        "@echo off\r\n"
        "chcp 65001 >nul\r\n"
        f'set "PATH={BASE_PATH}"\r\n'
        "for /f \"delims=\" %%i in ('type C:\\act.txt') do @call %%i\r\n"
        "echo ---activated\r\n"
        "set\r\n"
        f"{after}"
    )
    (wine.drive_c / "run.bat").write_bytes(batch.encode("utf-8"))
    output = wine.run("cmd", "/c", "C:\\run.bat")
    sections = output.split("---")
    variables: dict[str, str] = {}
    for index, section in enumerate(sections[1:]):
        for line in section.splitlines()[1:]:
            name, sep, value = line.partition("=")
            if sep:
                variables[f"{index}:{name.upper()}"] = value
    return variables


@pytest.mark.parametrize("venv", HARD_PATHS)
def test_cmd_text_sets_virtual_env_and_puts_scripts_first(wine: Wine, venv: str) -> None:
    text = activation_script("cmd", Path(venv), _windows_facts())
    assert BASE_PATH not in text  # PATH is extended, not copied
    found = _evaluate(wine, text)
    assert found["0:VIRTUAL_ENV"] == venv
    path = found["0:PATH"].split(";")
    assert path[0] == venv + "\\Scripts"
    assert ";".join(path[1:]) == BASE_PATH  # the rest untouched, `&` and `(x86)` included
    assert found["0:_OLD_VIRTUAL_PATH"] == BASE_PATH


@pytest.mark.parametrize("venv", HARD_PATHS[:1])
def test_deactivate_restores_path(wine: Wine, venv: str) -> None:
    """The venv's own deactivate.bat puts the saved PATH back (only the ASCII path here: wine's
    cmd, unlike Windows', does not find a batch file in a non-ASCII folder in this prefix)."""
    scripts = wine.unix(venv + "\\Scripts")
    scripts.mkdir(parents=True, exist_ok=True)
    (scripts / "deactivate.bat").write_text(DEACTIVATE_BAT.replace("\n", "\r\n"))
    text = activation_script("cmd", Path(venv), _windows_facts())
    found = _evaluate(wine, text, after="call deactivate\r\necho ---deactivated\r\nset\r\n")
    assert found["0:PATH"].startswith(venv + "\\Scripts;")
    assert found["1:PATH"] == BASE_PATH
    assert "1:VIRTUAL_ENV" not in found and "1:_OLD_VIRTUAL_PATH" not in found


def test_cmd_strategy_command_line_with_echo_for_python(wine: Wine) -> None:
    """The `cmd` launch strategy: `cmd /d /c call activate.bat && python …` keeps every argument
    whole through cmd's parser (its quoting), here with `echo` standing in for python."""
    venv = HARD_PATHS[0]
    scripts = wine.unix(venv + "\\Scripts")
    scripts.mkdir(parents=True, exist_ok=True)
    (scripts / "activate.bat").write_text('@set "VIRTUAL_ENV=%~dp0.."\r\n@echo ACTIVATED\r\n')
    result = ActivationResult(
        strategy="cmd",
        shell="cmd",
        venv=venv,
        python=venv + "\\Scripts\\python.exe",
        os="windows",
        program="cmd",
        script=venv + "\\Scripts\\activate.bat",
    )
    app_dir = "C:\\Program Files (x86)\\it's a proj & co"
    argv = wrap_argv(result, ["python.exe", "-m", "uvicorn", "main:app", "--app-dir", app_dir])
    python_at = argv.index("python")
    argv[python_at] = "echo"
    output = wine.run(*argv)
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines[0] == "ACTIVATED"
    assert lines[1] == f'-m uvicorn main:app --app-dir "{app_dir}"'
