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
from launcher.shells import SHELLS, normalize_shell_name


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
    """Code that `shell` evaluates to activate the venv at `venv_path`.

    It only sets variables (VIRTUAL_ENV, PATH with the venv's scripts folder first) and unsets
    PYTHONHOME: no activation script runs, so PowerShell's execution policy cannot refuse it,
    and every path is quoted for the target shell (spaces, quotes, `(x86)`, `%`, `$`, `&`,
    non-ASCII letters).
    """
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
    if name in {"bash", "zsh", "sh", "git-bash"}:
        if facts.windows:  # a POSIX shell on Windows is MSYS2/Git Bash: /c/… paths
            venv, scripts = windows_to_msys(venv), windows_to_msys(scripts)
        return "\n".join(
            [
                header,
                f"export VIRTUAL_ENV={quote_posix(venv)}",
                f'export PATH={quote_posix(scripts)}:"$PATH"',
                "unset PYTHONHOME",
                "hash -r 2>/dev/null || true",
                "",
            ]
        )
    if name == "fish":
        return "\n".join(
            [
                header,
                f"set -gx VIRTUAL_ENV {quote_fish(venv)}",
                "set -e PYTHONHOME; or true",  # `set` keeps the last status: leave it 0
                f"set -gx PATH {quote_fish(scripts)} $PATH",
                "",
            ]
        )
    if name == "nu":
        return "\n".join(
            [
                header,
                f"$env.VIRTUAL_ENV = {quote_nu(venv)}",
                f"$env.PATH = ($env.PATH | split row (char esep) | prepend {quote_nu(scripts)})",
                "hide-env -i PYTHONHOME",
                "",
            ]
        )
    if name in {"powershell", "pwsh"}:
        return "\n".join(
            [
                header,
                f"$env:VIRTUAL_ENV = {quote_powershell(venv)}",
                f"$env:PATH = {quote_powershell(scripts)} + [IO.Path]::PathSeparator + $env:PATH",
                "$env:PYTHONHOME = $null",
                "",
            ]
        )
    if name == "cmd":
        return cmd_activation(venv, scripts, facts)
    raise UsageError(
        f"cannot write activation code for shell {shell!r}",
        "Name your shell with --shell: " + ", ".join(s for s in SHELLS if s != "unknown") + ".",
    )


def cmd_activation(venv: str, scripts: str, facts: PlatformFacts) -> str:
    """`set "VAR=value"` lines for cmd, with PATH written out in full.

    Evaluated by `for /f "delims=" %i in (…) do @%i`, where a line's text is not expanded
    again: a `%PATH%` reference would stay literal, so the current PATH is written out, and
    `%`, `&`, `(x86)` in paths are safe inside the quotes. cmd has no comment that `for /f`
    skips quietly, so the usage line is printed by `--help`, not here.
    """
    current = facts.getenv("PATH")
    new_path = scripts + (";" + current if current else "")
    for value in (venv, new_path):
        if '"' in value or "\n" in value:
            raise UsageError(
                "a path contains a double quote or a line break, which cmd cannot carry",
                "Use PowerShell (robo-backend activate --shell powershell) or rename the folder.",
            )
    return "\n".join(
        [
            f'set "VIRTUAL_ENV={venv}"',
            f'set "PATH={new_path}"',
            'set "PYTHONHOME="',
            "",
        ]
    )


__all__ = [
    "USAGE",
    "activation_script",
    "cmd_activation",
    "quote_fish",
    "quote_nu",
    "quote_posix",
    "quote_powershell",
    "venv_scripts_dir",
]
