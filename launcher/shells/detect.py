"""Which shell is the user in: detection from `PlatformFacts` alone.

A pure function of the facts, so every case is tested on Linux; only `PlatformFacts.current()`
looks at the machine. Evidence in order: the override, the parent-process chain (looking through
pyenv-win's `cmd` shim and `sh -c` wrappers), then environment heuristics (docs/shells.md).
WSL is a flag, not a shell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from launcher.errors import UsageError
from launcher.platform import PlatformFacts, wsl_reason

SHELLS = ("powershell", "pwsh", "cmd", "git-bash", "bash", "zsh", "fish", "nu", "sh", "unknown")
"""Every name `detect_shell` can answer."""

# shellingham's SHELL_NAMES (shellingham/_core.py), which it matches against process names.
_SHELLINGHAM_NAMES = frozenset(
    {"sh", "bash", "dash", "ash", "csh", "tcsh", "ksh", "zsh", "fish", "cmd", "powershell", "pwsh"}
    | {"elvish", "xonsh", "nu"}
)
# Process/override name -> our shell name; a shell we cannot write activation code for has none.
_CANONICAL = {name: name for name in SHELLS if name != "unknown"}
_CANONICAL.update(windowspowershell="powershell", gitbash="git-bash", nushell="nu")
_CANONICAL.update({"pwsh-preview": "pwsh", "dash": "sh", "ash": "sh", "ksh": "sh"})
_PYENV_WIN_VARS = ("PYENV", "PYENV_ROOT", "PYENV_HOME")


@dataclass(frozen=True)
class ShellInfo:
    """The detected shell: one of SHELLS, the WSL flag, and the evidence (for doctor/-v)."""

    name: str
    wsl: bool
    reason: str
    version: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name} (WSL)" if self.wsl else self.name

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "wsl": self.wsl, "reason": self.reason, "version": self.version}


def normalize_shell_name(raw: str) -> str | None:
    """`PowerShell.exe`, `/usr/bin/zsh`, `-bash`, `Git Bash` → our name; None if unsupported."""
    return _CANONICAL.get(_process_base(raw.strip().strip('"'))[0].replace(" ", "-"))


def _process_base(name: str) -> tuple[str, bool]:
    """(lower-case base name without .exe, is-login-shell) of a parent-chain entry."""
    text = name.strip().lower()
    base = re.split(r"[\\/]", text)[-1].lstrip("-")
    return base.removesuffix(".exe"), text.startswith("-")


def detect_shell(
    facts: PlatformFacts, override: str | None = None, *, source: str = "--shell"
) -> ShellInfo:
    """Decide the user's shell from `facts` alone (the order is in the module docstring);
    `override` (from `source`) must name a supported shell (UsageError otherwise)."""
    wsl_why = wsl_reason(facts)
    wsl = wsl_why is not None

    def result(name: str, reason: str) -> ShellInfo:
        if wsl_why:
            reason = f"{reason}; WSL from {wsl_why}"
        return ShellInfo(name, wsl, reason, "5.1" if name == "powershell" else None)

    if override is not None and override.strip():
        name = normalize_shell_name(override)
        if name is None or name == "unknown":
            raise UsageError(
                f"{source} = {override!r} is not a shell the launcher knows",
                "Use one of: " + ", ".join(s for s in SHELLS if s != "unknown") + ".",
            )
        return result(name, f"from {source}")

    return result(*(_from_parent_chain(facts) or _from_environment(facts)))


def _from_parent_chain(facts: PlatformFacts) -> tuple[str, str] | None:
    """shellingham's walk over `facts.parents`, plus the shim/wrapper corrections."""
    chain = [_process_base(p) for p in facts.parents]
    shells = [
        (i, base, login) for i, (base, login) in enumerate(chain) if base in _SHELLINGHAM_NAMES
    ]
    if not shells:
        return None
    index, base, login = shells[0]
    original = facts.parents[index]
    outer = shells[1] if len(shells) > 1 else None

    if base == "cmd" and outer is not None and facts.windows:
        pyenv = next((v for v in _PYENV_WIN_VARS if facts.getenv(v)), None)
        if pyenv is not None:
            outer_name = _CANONICAL.get(outer[1])
            if outer_name:
                return _windows_flavour(outer_name, facts), (
                    f"parent process {facts.parents[outer[0]]}, above {original} which is "
                    f"pyenv-win's cmd shim ({pyenv} is set)"
                )
    if base in {"sh", "dash"} and outer is not None:
        outer_name = _CANONICAL.get(outer[1])
        if outer_name and outer_name != "sh":
            return _windows_flavour(outer_name, facts), (
                f"parent process {facts.parents[outer[0]]}, above an `{base} -c` wrapper "
                f"({original})"
            )
    if login and not facts.windows:
        # shellingham: a login shell (argv[0] "-zsh") means the user's $SHELL.
        login_shell = facts.getenv("SHELL")
        name = normalize_shell_name(login_shell) if login_shell else None
        if name:
            return name, f"login shell {original} with SHELL={login_shell}"
    name = _CANONICAL.get(base)
    if name is None:
        return "unknown", f"parent process {original} is a shell the launcher cannot write for"
    return _windows_flavour(name, facts), f"parent process {original}"


def _windows_flavour(name: str, facts: PlatformFacts) -> str:
    """A bash.exe on Windows with MSYSTEM set is Git Bash (MSYS2), which takes MSYS paths."""
    if name == "bash" and facts.windows and facts.getenv("MSYSTEM"):
        return "git-bash"
    return name


def _from_environment(facts: PlatformFacts) -> tuple[str, str]:
    """The heuristics used when no shell is visible in the parent chain."""
    msystem = facts.getenv("MSYSTEM")
    if msystem and facts.windows:
        return "git-bash", f"MSYSTEM={msystem}"
    ps_modules = facts.getenv("PSModulePath")
    flavour = powershell_from_module_path(ps_modules, facts.path_separator) if ps_modules else None
    if facts.windows:
        if flavour:
            folders = (
                "PowerShell 7 folders" if flavour == "pwsh" else "a user's WindowsPowerShell folder"
            )
            return flavour, f"PSModulePath lists {folders} (no shell in the parent chain)"
        comspec = facts.getenv("COMSPEC")
        if comspec:
            return "cmd", f"COMSPEC={comspec} (no shell in the parent chain, no PowerShell modules)"
        return "unknown", "no shell in the parent chain and no COMSPEC"
    if flavour == "pwsh":
        return "pwsh", "PSModulePath lists PowerShell 7 folders (no shell in the parent chain)"
    login_shell = facts.getenv("SHELL")
    if login_shell:
        name = normalize_shell_name(login_shell)
        if name:
            return name, f"SHELL={login_shell} (no shell in the parent chain)"
        return "unknown", f"SHELL={login_shell} is a shell the launcher cannot write for"
    return "unknown", "no shell in the parent chain and no SHELL variable"


def powershell_from_module_path(value: str, separator: str = ";") -> str | None:
    """`pwsh`, `powershell` or None from PSModulePath, a heuristic (it leaks to children):
    PowerShell 7 adds `…\\PowerShell\\Modules` or `…\\powershell\\7\\…`, Windows PowerShell 5.1 the
    user's `Documents\\WindowsPowerShell\\Modules` (the system-wide ones are set even in cmd)."""
    entries = [e.strip().lower().replace("\\", "/") for e in value.split(separator) if e.strip()]
    if any(
        re.search(r"/powershell/7[^/]*/", e + "/") or re.search(r"(^|/)powershell/modules$", e)
        for e in entries
    ):
        return "pwsh"
    for entry in entries:
        if (
            entry.endswith("windowspowershell/modules")
            and "/system32/" not in entry
            and ("program files" not in entry and "%programfiles%" not in entry)
        ):
            return "powershell"
    return None
