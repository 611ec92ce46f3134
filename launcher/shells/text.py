"""The text `robo-backend activate` prints: shell code that activates a venv in each shell.

It only sets variables (VIRTUAL_ENV, PATH with the venv's scripts folder first) and unsets
PYTHONHOME: no activation script runs, so PowerShell's execution policy cannot refuse it, and
every path is quoted for the target shell.
"""

from __future__ import annotations

import os
from pathlib import Path, PureWindowsPath

from launcher.errors import UsageError
from launcher.platform import PlatformFacts, is_windows_path, windows_to_msys
from launcher.shells.detect import SHELLS, normalize_shell_name


def quote_posix(value: str) -> str:
    """Single-quote for sh/bash/zsh: nothing inside is special except the quote itself."""
    return "'" + value.replace("'", "'\"'\"'") + "'"


def quote_fish(value: str) -> str:
    """Single-quote for fish, where `\\` and `'` are the only escapes inside."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


_PS_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"


def quote_powershell(value: str) -> str:
    """Single-quote for PowerShell: no expansion inside; every kind of single quote doubled
    (PowerShell also treats the typographic ‘ ’ ‚ ‛ as quote characters)."""
    return "'" + "".join(ch * 2 if ch in _PS_SINGLE_QUOTES else ch for ch in value) + "'"


def quote_nu(value: str) -> str:
    """Nushell: a raw single-quoted string when possible, else a double-quoted one."""
    if "'" not in value:
        return "'" + value + "'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped + '"'


def venv_scripts_dir(venv_path: Path, facts: PlatformFacts) -> Path:
    """`Scripts` for a Windows venv, `bin` otherwise (what exists on disk wins)."""
    if (venv_path / "Scripts").is_dir() and not (venv_path / "bin").is_dir():
        return venv_path / "Scripts"
    if (venv_path / "bin").is_dir():
        return venv_path / "bin"
    return venv_path / ("Scripts" if facts.windows else "bin")


USAGE = {
    "bash": 'eval "$(robo-backend activate)"',
    "zsh": 'eval "$(robo-backend activate)"',
    "sh": 'eval "$(robo-backend activate --shell sh)"',
    "git-bash": 'eval "$(robo-backend activate)"',
    "fish": "robo-backend activate | source",
    "nu": "robo-backend activate --shell nu | save -f act.nu  (then: source act.nu)",
    "powershell": "robo-backend activate | Invoke-Expression",
    "pwsh": "robo-backend activate | Invoke-Expression",
    "cmd": "for /f \"delims=\" %i in ('robo-backend activate --shell cmd') do @%i",
}
"""How each shell evaluates the output (also in `activate --help` and docs/shells.md)."""


def activation_script(shell: str, venv_path: Path, facts: PlatformFacts) -> str:
    """Code that `shell` evaluates to activate the venv at `venv_path` (see the module doc)."""
    name = normalize_shell_name(shell) or shell
    raw = os.fspath(venv_path)
    if is_windows_path(raw):  # a Windows path, also when spelled on another OS
        windows_venv = PureWindowsPath(raw)
        posix_only = Path(raw, "bin").is_dir() and not Path(raw, "Scripts").is_dir()
        venv, scripts = str(windows_venv), str(windows_venv / ("bin" if posix_only else "Scripts"))
    else:
        venv = os.path.abspath(raw)
        scripts = os.fspath(venv_scripts_dir(Path(venv), facts))
    header = f"# robo-backend: activate {venv} ({name}); usage: {USAGE.get(name, '')}"
    if name == "cmd":
        return cmd_activation(venv, scripts, facts)
    if name in {"bash", "zsh", "sh", "git-bash"}:
        if facts.windows:  # a POSIX shell on Windows is MSYS2/Git Bash: /c/… paths
            venv, scripts = windows_to_msys(venv), windows_to_msys(scripts)
        lines = _posix(venv, scripts)
    elif name == "fish":
        lines = _fish(venv, scripts)
    elif name == "nu":
        lines = [
            f"$env.VIRTUAL_ENV = {quote_nu(venv)}",
            f"$env.PATH = ($env.PATH | split row (char esep) | prepend {quote_nu(scripts)})",
            "hide-env -i PYTHONHOME",
        ]
    elif name in {"powershell", "pwsh"}:
        lines = _powershell(venv, scripts)
    else:
        raise UsageError(
            f"cannot write activation code for shell {shell!r}",
            "Name your shell with --shell: " + ", ".join(s for s in SHELLS if s != "unknown") + ".",
        )
    return "\n".join([header, *lines, ""])


# The way back, as virtualenv's activators write it: `deactivate` puts PATH and PYTHONHOME back
# and forgets itself; activating again first undoes the previous activation ("nondestructive").
_POSIX_DEACTIVATE = """deactivate () {
    if [ -n "${_OLD_VIRTUAL_PATH:-}" ]; then
        PATH="$_OLD_VIRTUAL_PATH"; export PATH; unset _OLD_VIRTUAL_PATH
    fi
    if [ -n "${_OLD_VIRTUAL_PYTHONHOME:-}" ]; then
        PYTHONHOME="$_OLD_VIRTUAL_PYTHONHOME"; export PYTHONHOME; unset _OLD_VIRTUAL_PYTHONHOME
    fi
    unset VIRTUAL_ENV
    hash -r 2>/dev/null || true
    if [ "${1:-}" != nondestructive ]; then unset -f deactivate; fi
}
deactivate nondestructive"""

_FISH_DEACTIVATE = """function deactivate -d 'Leave the venv robo-backend activated'
    if set -q _OLD_VIRTUAL_PATH
        set -gx PATH $_OLD_VIRTUAL_PATH
        set -e _OLD_VIRTUAL_PATH
    end
    if set -q _OLD_VIRTUAL_PYTHONHOME
        set -gx PYTHONHOME $_OLD_VIRTUAL_PYTHONHOME
        set -e _OLD_VIRTUAL_PYTHONHOME
    end
    set -e VIRTUAL_ENV
    if test "$argv[1]" != nondestructive
        functions -e deactivate
    end
end
deactivate nondestructive"""

# One line each: `| Invoke-Expression` runs every line of the output on its own.
_PS_DEACTIVATE = (
    "function global:deactivate([switch]$NonDestructive) { "
    "if (Test-Path variable:global:_OLD_VIRTUAL_PATH) { $env:PATH = $global:_OLD_VIRTUAL_PATH; "
    "Remove-Variable -Name _OLD_VIRTUAL_PATH -Scope Global }; "
    "if (Test-Path variable:global:_OLD_VIRTUAL_PYTHONHOME) { "
    "$env:PYTHONHOME = $global:_OLD_VIRTUAL_PYTHONHOME; "
    "Remove-Variable -Name _OLD_VIRTUAL_PYTHONHOME -Scope Global }; "
    "if (Test-Path env:VIRTUAL_ENV) { Remove-Item env:VIRTUAL_ENV }; "
    "if (-not $NonDestructive) { Remove-Item function:deactivate } }"
)


def _posix(venv: str, scripts: str) -> list[str]:
    return [
        _POSIX_DEACTIVATE,
        '_OLD_VIRTUAL_PATH="$PATH"',
        f"export VIRTUAL_ENV={quote_posix(venv)}",
        f'export PATH={quote_posix(scripts)}:"$PATH"',
        'if [ -n "${PYTHONHOME:-}" ]; then _OLD_VIRTUAL_PYTHONHOME="$PYTHONHOME"; fi',
        "unset PYTHONHOME",
        "hash -r 2>/dev/null || true",
    ]


def _fish(venv: str, scripts: str) -> list[str]:
    return [
        _FISH_DEACTIVATE,
        "set -g _OLD_VIRTUAL_PATH $PATH",
        f"set -gx VIRTUAL_ENV {quote_fish(venv)}",
        "set -q PYTHONHOME; and set -g _OLD_VIRTUAL_PYTHONHOME $PYTHONHOME",
        "set -e PYTHONHOME; or true",  # `set` keeps the last status: leave it 0
        f"set -gx PATH {quote_fish(scripts)} $PATH",
    ]


def _powershell(venv: str, scripts: str) -> list[str]:
    return [
        _PS_DEACTIVATE,
        "deactivate -NonDestructive",
        "$global:_OLD_VIRTUAL_PATH = $env:PATH",
        "if (Test-Path env:PYTHONHOME) { $global:_OLD_VIRTUAL_PYTHONHOME = $env:PYTHONHOME }",
        f"$env:VIRTUAL_ENV = {quote_powershell(venv)}",
        f"$env:PATH = {quote_powershell(scripts)} + [IO.Path]::PathSeparator + $env:PATH",
        "$env:PYTHONHOME = $null",
    ]


def cmd_activation(venv: str, scripts: str, facts: PlatformFacts) -> str:
    """`set` lines for cmd, evaluated by `for /f "delims=" %i in (…) do @%i` (no second expansion,
    so paths are literal); the PATH lines go through `call` to read `%PATH%` as it is then and save
    it for the venv's `deactivate.bat`. No usage comment: `for /f` cannot skip one quietly."""
    if '"' in venv or "\n" in venv:
        raise UsageError(
            "the venv path contains a double quote or a line break, which cmd cannot carry",
            "Use PowerShell (robo-backend activate --shell powershell) or rename the folder.",
        )
    suffix = scripts[len(venv) :] if scripts.startswith(venv) else "\\Scripts"
    return "\n".join(
        [
            f'set "VIRTUAL_ENV={venv}"',
            'call set "_OLD_VIRTUAL_PATH=%PATH%"',
            f'call set "PATH=%VIRTUAL_ENV%{suffix};%PATH%"',
            'set "PYTHONHOME="',
            "",
        ]
    )
