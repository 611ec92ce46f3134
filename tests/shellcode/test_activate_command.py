"""`robo-backend activate`: its output evaluated by the real shells, and its text per shell.

bash, zsh, sh and fish run the real command's output (`eval "$(…)"`, `… | source`) and then
`command -v python` must resolve inside the venv, also for a project path with spaces, both
quotes, `(x86)`, `%`, `$`, `&` and non-ASCII letters. PowerShell, cmd and nu are not installed
here: their text is checked against each shell's quoting rules.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from launcher.errors import UsageError
from launcher.platform import PlatformFacts
from launcher.shells.text import activation_script
from launcher.venvs import VenvInfo
from tests.helpers.cli import CliRunner

POSIX_SHELLS = ("bash", "zsh", "sh", "fish")


def _evaluate(
    shell: str, project: Path, explicit: bool, tmp: Path, pythonhome: bool
) -> subprocess.CompletedProcess[str]:
    """Run the real shell: activate through the real CLI, then ask where python is.

    With `pythonhome` the shell starts with a PYTHONHOME that breaks any Python: the
    activation must unset it (and must not fail when there is none to unset).
    The launcher itself runs through a wrapper that clears it and execs (so its parent process
    is still the shell under test).
    """
    exe = shutil.which(shell)
    if exe is None:
        pytest.skip(f"{shell} is not installed (Debian: apt install {shell})")
    robo = tmp / "robo"
    robo.write_text(f'#!/bin/sh\nunset PYTHONHOME\nexec "{sys.executable}" "$@"\n')
    robo.chmod(0o755)
    flag = f" --shell {shell}" if explicit else ""
    if shell == "fish":
        script = (
            f'"$ROBO" -m launcher activate -p "$PROJ"{flag} | source; '
            "and command -v python; and python -c 'import sys; print(sys.prefix)'"
        )
    else:
        script = (
            f'eval "$("$ROBO" -m launcher activate -p "$PROJ"{flag})" && '
            "command -v python && python -c 'import sys; print(sys.prefix)'"
        )
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": os.environ["HOME"],
        "ROBO": str(robo),
        "PROJ": str(project),
        "NO_COLOR": "1",
        "ROBO_BACKEND_LOG_DIR": os.environ["ROBO_BACKEND_LOG_DIR"],
        "LANG": "C.UTF-8",
    }
    if pythonhome:
        env["PYTHONHOME"] = "/nonexistent"
    return subprocess.run(
        [exe, "-c", script], env=env, capture_output=True, text=True, timeout=120, cwd="/"
    )


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX shells")
@pytest.mark.parametrize("shell", POSIX_SHELLS)
@pytest.mark.parametrize("where", ["plain", "weird"])
def test_real_shell_evaluates_activate(
    shell: str, where: str, uv_venv: VenvInfo, weird_venv: VenvInfo, tmp_path: Path
) -> None:
    venv = uv_venv if where == "plain" else weird_venv
    # bash, zsh and fish are also detected from the parent process (no --shell); sh under
    # pytest's own shell looks like an `sh -c` wrapper, so it is named explicitly.
    explicit = shell == "sh" or where == "weird"
    done = _evaluate(shell, venv.path.parent, explicit, tmp_path, pythonhome=where == "plain")
    assert done.returncode == 0, done.stderr
    where_python, prefix = done.stdout.strip().splitlines()[-2:]
    assert where_python == str(venv.path / "bin" / "python")
    assert prefix == str(venv.path)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX shells")
def test_activate_without_a_venv_is_a_two_line_error(tmp_path: Path, run_cli: CliRunner) -> None:
    done = run_cli("activate", "-p", str(tmp_path), "--shell", "bash")
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert lines[0] == f"error: no venv at {tmp_path / '.venv'}"
    assert lines[1].startswith("hint: Run `")
    assert "-m launcher up`" in lines[1]  # the command as it was run: python -m launcher


def test_activate_with_an_unknown_shell_is_a_usage_error(
    uv_venv: VenvInfo, run_cli: CliRunner
) -> None:
    done = run_cli("activate", "-p", str(uv_venv.path.parent), "--shell", "tcsh")
    assert done.returncode == 2
    assert "--shell = 'tcsh' is not a shell the launcher knows" in done.stderr


def test_help_shows_the_usage_line_of_every_shell(run_cli: CliRunner) -> None:
    done = run_cli("activate", "--help", env={"COLUMNS": "120"})
    for usage in (
        'eval "$(robo-backend activate)"',
        "robo-backend activate | source",
        "robo-backend activate | Invoke-Expression",
        "for /f \"delims=\" %i in ('robo-backend activate --shell cmd') do @%i",
    ):
        assert usage in done.stdout


# ---------------------------------------------------------------------------------------------
# The text for shells that are not installed here


WIN_VENV = "C:\\Program Files (x86)\\Ann's 100% $HOME & ü\\proj\\.venv"
WIN_FACTS = PlatformFacts("win32", {"PATH": "C:\\Windows\\system32;C:\\Windows"}, (), "")


def _lines(shell: str, venv: str = WIN_VENV, facts: PlatformFacts = WIN_FACTS) -> list[str]:
    return activation_script(shell, Path(venv), facts).splitlines()


@pytest.mark.skipif(sys.platform == "win32", reason="Windows paths are built as text on POSIX")
def test_powershell_assignments_need_no_script() -> None:
    lines = _lines("powershell")
    assert lines[0].startswith("#")
    assert lines[1].startswith("function global:deactivate([switch]$NonDestructive) {")
    assert lines[2:5] == [
        "deactivate -NonDestructive",
        "$global:_OLD_VIRTUAL_PATH = $env:PATH",
        "if (Test-Path env:PYTHONHOME) { $global:_OLD_VIRTUAL_PYTHONHOME = $env:PYTHONHOME }",
    ]
    assert (
        lines[5]
        == "$env:VIRTUAL_ENV = 'C:\\Program Files (x86)\\Ann''s 100% $HOME & ü\\proj\\.venv'"
    )
    assert lines[6] == (
        "$env:PATH = 'C:\\Program Files (x86)\\Ann''s 100% $HOME & ü\\proj\\.venv\\Scripts' + "
        "[IO.Path]::PathSeparator + $env:PATH"
    )
    assert lines[7] == "$env:PYTHONHOME = $null"
    assert not any(".ps1" in line for line in lines[1:])


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths as text")
def test_powershell_doubles_typographic_quotes_too() -> None:
    text = activation_script("pwsh", Path("/home/ann/it\u2019s/.venv"), PlatformFacts("linux"))
    assert "$env:VIRTUAL_ENV = '/home/ann/it\u2019\u2019s/.venv'" in text


@pytest.mark.skipif(sys.platform == "win32", reason="Windows paths are built as text on POSIX")
def test_cmd_sets_literal_values_and_extends_path() -> None:
    """The venv path literally (inside quotes); PATH extended through `call`, never copied
    (wine's cmd runs these lines in tests/shellcode/test_cmd_wine.py)."""
    assert _lines("cmd") == [
        'set "VIRTUAL_ENV=' + WIN_VENV + '"',
        'call set "_OLD_VIRTUAL_PATH=%PATH%"',
        'call set "PATH=%VIRTUAL_ENV%\\Scripts;%PATH%"',
        'set "PYTHONHOME="',
    ]


def test_cmd_refuses_a_double_quote_in_the_venv_path() -> None:
    facts = PlatformFacts("win32", {"PATH": "C:\\Windows"})
    with pytest.raises(UsageError) as caught:
        activation_script("cmd", Path('C:\\a "quoted" folder\\.venv'), facts)
    assert "double quote" in caught.value.message
    assert "--shell powershell" in caught.value.hint


@pytest.mark.skipif(sys.platform == "win32", reason="Windows paths are built as text on POSIX")
def test_git_bash_gets_msys_paths() -> None:
    lines = [line for line in _lines("git-bash") if line.startswith("export ")]
    assert (
        lines[0]
        == "export VIRTUAL_ENV='/c/Program Files (x86)/Ann'\"'\"'s 100% $HOME & ü/proj/.venv'"
    )
    assert lines[1].startswith("export PATH='/c/Program Files (x86)/") and lines[1].endswith(
        '/.venv/Scripts\':"$PATH"'
    )


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths as text")
def test_nu_uses_raw_strings_and_falls_back_to_escapes() -> None:
    facts = PlatformFacts("linux")
    plain = activation_script("nu", Path("/srv/my proj/.venv"), facts)
    assert "$env.VIRTUAL_ENV = '/srv/my proj/.venv'" in plain
    assert "prepend '/srv/my proj/.venv/bin'" in plain
    quoted = activation_script("nu", Path('/srv/ann\'s "x"/.venv'), facts)
    assert '$env.VIRTUAL_ENV = "/srv/ann\'s \\"x\\"/.venv"' in quoted


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths as text")
def test_fish_escapes_backslashes_and_quotes() -> None:
    text = activation_script("fish", Path("/srv/a\\b'c/.venv"), PlatformFacts("linux"))
    assert "set -gx VIRTUAL_ENV '/srv/a\\\\b\\'c/.venv'" in text


def test_unknown_shell_has_no_activation_text() -> None:
    with pytest.raises(UsageError):
        activation_script("unknown", Path("/srv/.venv"), PlatformFacts("linux"))


# ---------------------------------------------------------------------------------------------
# The way back: `deactivate`, evaluated by the real shells


_DEACTIVATE_CHECK = {
    "posix": (
        '. "$ACT"; . "$ACT"; echo "ON=$PATH|$VIRTUAL_ENV"; deactivate; '
        'echo "OFF=$PATH|${VIRTUAL_ENV-unset}|${PYTHONHOME-unset}"; '
        "if command -v deactivate >/dev/null 2>&1; then echo LEFT=yes; else echo LEFT=no; fi"
    ),
    "fish": (
        'source "$ACT"; source "$ACT"; echo "ON=$PATH|$VIRTUAL_ENV"; deactivate; '
        "set -q VIRTUAL_ENV; and set v $VIRTUAL_ENV; or set v unset; "
        "set -q PYTHONHOME; and set h $PYTHONHOME; or set h unset; "
        'echo "OFF=$PATH|$v|$h"; '
        "if functions -q deactivate; echo LEFT=yes; else; echo LEFT=no; end"
    ),
}


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX shells")
@pytest.mark.parametrize("shell", POSIX_SHELLS)
def test_deactivate_puts_path_and_pythonhome_back(
    shell: str, uv_venv: VenvInfo, tmp_path: Path
) -> None:
    """Activated twice (the second undoes the first), then `deactivate`: PATH and PYTHONHOME
    are exactly what they were, VIRTUAL_ENV is gone, and so is `deactivate` itself."""
    exe = shutil.which(shell)
    if exe is None:
        pytest.skip(f"{shell} is not installed (Debian: apt install {shell})")
    text = activation_script(shell, uv_venv.path, PlatformFacts(sys.platform))
    act = tmp_path / "act.txt"
    act.write_text(text)
    script = _DEACTIVATE_CHECK["fish" if shell == "fish" else "posix"]
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ["HOME"], "ACT": str(act)}
    env["PYTHONHOME"] = "/somewhere/else"
    done = subprocess.run(
        [exe, "-c", script], env=env, capture_output=True, text=True, timeout=60, cwd="/"
    )
    assert done.returncode == 0, done.stderr
    lines = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    scripts = str(uv_venv.scripts_dir)
    assert lines["ON"] == f"{scripts}:/usr/bin:/bin|{uv_venv.path}"
    assert lines["OFF"] == "/usr/bin:/bin|unset|/somewhere/else"
    assert lines["LEFT"] == "no"
