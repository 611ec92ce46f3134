"""Which shell is the user in, and what text activates a venv in it.

Detection is a pure function of `PlatformFacts` (sys.platform, the environment, the names of
the parent processes, the WSL osrelease text), so every case of GUIDE §3.11 can be tested on
Linux with injected facts. Only `PlatformFacts.current()` looks at the real machine.

Order of evidence (first that answers wins):

1. an explicit override (`--shell` / `ROBO_BACKEND_SHELL`);
2. the parent-process chain, walked nearest-first the way shellingham does it (the first
   process whose name is a known shell), with two corrections shellingham lacks: pyenv-win's
   `cmd` shim and `sh -c` wrappers are looked through when a real shell sits above them;
3. heuristics: `MSYSTEM` (Git Bash), `PSModulePath` (PowerShell 7 vs 5.1), `COMSPEC` (cmd)
   on Windows; `SHELL` elsewhere.

WSL is a flag, not a shell: a bash inside WSL is `bash` with `wsl=True`.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath

from launcher.errors import UsageError

SHELLS = ("powershell", "pwsh", "cmd", "git-bash", "bash", "zsh", "fish", "nu", "sh", "unknown")
"""Every name `detect_shell` can answer."""

# shellingham's SHELL_NAMES (shellingham/_core.py), which it matches against process names.
_SHELLINGHAM_NAMES = frozenset(
    {"sh", "bash", "dash", "ash", "csh", "tcsh", "ksh", "zsh", "fish", "cmd", "powershell", "pwsh"}
    | {"elvish", "xonsh", "nu"}
)
# Process/override name -> our shell name. Shells we cannot write activation code for map to
# "unknown" (with the real name kept in the reason).
_CANONICAL = {
    "powershell": "powershell",
    "windowspowershell": "powershell",
    "pwsh": "pwsh",
    "pwsh-preview": "pwsh",
    "cmd": "cmd",
    "git-bash": "git-bash",
    "gitbash": "git-bash",
    "bash": "bash",
    "zsh": "zsh",
    "fish": "fish",
    "nu": "nu",
    "nushell": "nu",
    "sh": "sh",
    "dash": "sh",
    "ash": "sh",
    "ksh": "sh",
}
_PYENV_WIN_VARS = ("PYENV", "PYENV_ROOT", "PYENV_HOME")


@dataclass(frozen=True)
class PlatformFacts:
    """What the launcher knows about the machine it runs on; injected so tests can fake it.

    `parents` are process names from the nearest parent upward (`pwsh.exe`, `bash`, `-zsh` for
    a login shell). `executable` is the launcher's own interpreter: tools such as uv are also
    looked for next to it (they come with the launcher's venv).
    """

    platform: str
    env: Mapping[str, str] = field(default_factory=dict)
    parents: tuple[str, ...] = ()
    osrelease: str = ""
    executable: str = ""

    @classmethod
    def current(cls) -> PlatformFacts:
        """The facts of the real machine (reads the process tree once, with psutil)."""
        osrelease = ""
        with contextlib.suppress(OSError):
            osrelease = Path("/proc/sys/kernel/osrelease").read_text(encoding="utf-8").strip()
        return cls(
            platform=sys.platform,
            env=dict(os.environ),
            parents=_parent_names(),
            osrelease=osrelease,
            executable=sys.executable,
        )

    def getenv(self, name: str, default: str = "") -> str:
        """An environment variable; case-insensitive on Windows, like the OS itself."""
        if name in self.env:
            return self.env[name]
        if self.windows:
            upper = name.upper()
            for key, value in self.env.items():
                if key.upper() == upper:
                    return value
        return default

    @property
    def windows(self) -> bool:
        """Native Windows Python (not Cygwin/MSYS, whose Python lays venvs out like POSIX)."""
        return self.platform == "win32"

    @property
    def wsl(self) -> bool:
        """Linux inside WSL 1 or 2."""
        return wsl_reason(self) is not None

    @property
    def os_name(self) -> str:
        """`windows`, `wsl`, `linux`, `macos` (else sys.platform): the status file's `os`."""
        if self.windows:
            return "windows"
        if self.platform.startswith("linux"):
            return "wsl" if self.wsl else "linux"
        if self.platform == "darwin":
            return "macos"
        return self.platform

    @property
    def path_separator(self) -> str:
        return ";" if self.windows else ":"

    def path_dirs(self) -> list[str]:
        return [d for d in self.getenv("PATH").split(self.path_separator) if d]

    def which(self, name: str) -> str | None:
        """`name` on this environment's PATH (PATHEXT honoured on Windows), else None."""
        found = self.which_all(name)
        return found[0] if found else None

    def which_all(self, name: str) -> list[str]:
        """Every match of `name` on PATH, in PATH order (to skip e.g. Store aliases)."""
        names = [name]
        if self.windows and not Path(name).suffix:
            exts = self.getenv("PATHEXT", ".COM;.EXE;.BAT;.CMD").split(";")
            names = [name + ext.lower() for ext in exts if ext] + [name]
        seen: list[str] = []
        for folder in self.path_dirs():
            for candidate in names:
                path = os.path.join(folder, candidate)
                if os.path.isfile(path) and os.access(path, os.X_OK) and path not in seen:
                    seen.append(path)
        return seen


def _parent_names(limit: int = 12) -> tuple[str, ...]:
    """Names of the parent processes, nearest first; a login shell keeps its leading dash."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a dependency
        return ()
    names: list[str] = []
    try:
        parents = psutil.Process().parents()
    except (psutil.Error, OSError):
        return ()
    for process in parents[:limit]:
        try:
            name = process.name()
            try:
                argv0 = (process.cmdline() or [""])[0]
            except (psutil.Error, OSError):
                argv0 = ""
            names.append("-" + name if argv0.startswith("-") and not name.startswith("-") else name)
        except (psutil.Error, OSError):
            names.append("?")  # not ours to inspect (another user, elevated): keep walking
    return tuple(names)


def wsl_reason(facts: PlatformFacts) -> str | None:
    """Why we think this is WSL (None when it is not): the env vars or the kernel release."""
    if not facts.platform.startswith("linux"):
        return None
    for var in ("WSL_DISTRO_NAME", "WSL_INTEROP"):
        value = facts.env.get(var)
        if value:
            return f"{var}={value}"
    if "microsoft" in facts.osrelease.lower():
        return f"kernel {facts.osrelease.strip()}"
    return None


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
    text = raw.strip().strip('"').lower()
    if not text:
        return None
    base = re.split(r"[\\/]", text)[-1].lstrip("-")
    if base.endswith(".exe"):
        base = base[:-4]
    base = base.replace(" ", "-")
    return _CANONICAL.get(base)


def _process_base(name: str) -> tuple[str, bool]:
    """(lower-case base name without .exe, is-login-shell) of a parent-chain entry."""
    text = name.strip().lower()
    login = text.startswith("-")
    base = re.split(r"[\\/]", text.lstrip("-"))[-1]
    if base.endswith(".exe"):
        base = base[:-4]
    return base, login


def _version_for(name: str) -> str | None:
    return "5.1" if name == "powershell" else None


def detect_shell(
    facts: PlatformFacts, override: str | None = None, *, source: str = "--shell"
) -> ShellInfo:
    """Decide the user's shell from `facts` alone (see the module docstring for the order).

    `override` is the value of `--shell`/`ROBO_BACKEND_SHELL`; `source` names where it came
    from, for the reason text. An unsupported override is a UsageError (exit 2).
    """
    wsl_why = wsl_reason(facts)
    wsl = wsl_why is not None

    def result(name: str, reason: str) -> ShellInfo:
        if wsl_why:
            reason = f"{reason}; WSL from {wsl_why}"
        return ShellInfo(name, wsl, reason, _version_for(name))

    if override is not None and override.strip():
        name = normalize_shell_name(override)
        if name is None or name == "unknown":
            raise UsageError(
                f"{source} = {override!r} is not a shell the launcher knows",
                "Use one of: " + ", ".join(s for s in SHELLS if s != "unknown") + ".",
            )
        return result(name, f"from {source}")

    from_chain = _from_parent_chain(facts)
    if from_chain is not None:
        return result(*from_chain)
    name, reason = _from_environment(facts)
    return result(name, reason)


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
            return (
                flavour,
                f"PSModulePath lists {_ps_evidence(flavour)} (no shell in the parent chain)",
            )
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


def _ps_evidence(flavour: str) -> str:
    return "PowerShell 7 folders" if flavour == "pwsh" else "a user's WindowsPowerShell folder"


def powershell_from_module_path(value: str, separator: str = ";") -> str | None:
    """`pwsh`, `powershell` or None from PSModulePath.

    Windows sets a system-wide PSModulePath (Program Files and System32 WindowsPowerShell
    folders) even in cmd; PowerShell 7 adds `…\\PowerShell\\Modules` and `…\\powershell\\7\\…`,
    Windows PowerShell 5.1 adds the user's `Documents\\WindowsPowerShell\\Modules`. It leaks to
    child processes, so this is only a heuristic.
    """
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


# ---------------------------------------------------------------------------------------------
# Activation text for the user's own shell (`robo-backend activate`)


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


def windows_to_msys(path: str) -> str:
    """`C:\\Users\\me\\proj` → `/c/Users/me/proj` (what Git Bash's PATH holds)."""
    match = re.match(r"^([A-Za-z]):[\\/]?(.*)$", path)
    if not match:
        return path.replace("\\", "/")
    drive, rest = match.groups()
    return f"/{drive.lower()}/" + rest.replace("\\", "/")


def windows_to_wsl(path: str) -> str:
    """`C:\\proj` → `/mnt/c/proj`; `\\\\wsl$\\Ubuntu\\home\\me` → `/home/me`; POSIX as is."""
    match = re.match(r"^([A-Za-z]):[\\/]?(.*)$", path)
    if match:
        drive, rest = match.groups()
        return f"/mnt/{drive.lower()}/" + rest.replace("\\", "/")
    unc = re.match(r"^[\\/]{2}(?:wsl\$|wsl\.localhost)[\\/][^\\/]+(.*)$", path, re.IGNORECASE)
    if unc:
        return unc.group(1).replace("\\", "/") or "/"
    return path


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
    if re.match(r"^[A-Za-z]:[\\/]", raw):  # a Windows path, also when spelled on another OS
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


def tool_next_to(executable: str, name: str, windows: bool) -> str | None:
    """`name` in the folder of `executable` (e.g. uv installed in the launcher's own venv)."""
    if not executable:
        return None
    exe = name + (".exe" if windows else "")
    for folder in {os.path.dirname(executable), os.path.dirname(os.path.realpath(executable))}:
        candidate = os.path.join(folder, exe)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def find_tool(name: str, facts: PlatformFacts) -> str | None:
    """`name` on PATH, else next to the launcher's interpreter."""
    return facts.which(name) or tool_next_to(facts.executable, name, facts.windows)


__all__ = [
    "SHELLS",
    "USAGE",
    "PlatformFacts",
    "ShellInfo",
    "activation_script",
    "detect_shell",
    "find_tool",
    "normalize_shell_name",
    "powershell_from_module_path",
    "quote_fish",
    "quote_nu",
    "quote_posix",
    "quote_powershell",
    "venv_scripts_dir",
    "windows_to_msys",
    "windows_to_wsl",
    "wsl_reason",
]
