"""Facts about the machine the launcher runs on: OS, WSL, Windows paths, where tools are.

`PlatformFacts` is the one seam for the machine: tests inject Windows or WSL facts on Linux
instead of patching the world; only `.current()` and `.local()` look at the real machine.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

_DRIVE_PATH = re.compile(r"^[A-Za-z]:[\\/]")
_DRIVE_PARTS = re.compile(r"^([A-Za-z]):[\\/]?(.*)$")


@dataclass(frozen=True)
class PlatformFacts:
    """What the launcher knows about the machine it runs on.

    `parents`: process names, nearest first (`pwsh.exe`, `bash`, `-zsh` for a login shell).
    `executable`: the launcher's interpreter, next to which tools such as uv are also looked
    for ("": no launcher install, so a test can make a machine without uv).
    """

    platform: str
    env: Mapping[str, str] = field(default_factory=dict)
    parents: tuple[str, ...] = ()
    osrelease: str = ""
    executable: str = ""

    @classmethod
    def current(cls) -> PlatformFacts:
        """The facts of the real machine (reads the process tree once, with psutil)."""
        return cls(
            platform=sys.platform,
            env=dict(os.environ),
            parents=_parent_names(),
            osrelease=_osrelease(),
            executable=sys.executable,
        )

    @classmethod
    def local(cls, env: Mapping[str, str]) -> PlatformFacts:
        """This machine with the environment `env`, without walking the process tree."""
        return cls(sys.platform, dict(env), (), _osrelease(), sys.executable)

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
        return next(iter(self.which_all(name)), None)

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


def _osrelease() -> str:
    with contextlib.suppress(OSError):
        return Path("/proc/sys/kernel/osrelease").read_text(encoding="utf-8").strip()
    return ""


def _parent_names(limit: int = 12) -> tuple[str, ...]:
    """Names of the parent processes, nearest first; a login shell keeps its leading dash."""
    import psutil

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


def is_windows_path(path: str) -> bool:
    """True for `C:\\…`, `C:/…` and UNC `\\\\server\\share` paths: the one test for them."""
    return bool(_DRIVE_PATH.match(path)) or path.startswith("\\\\")


def windows_to_msys(path: str) -> str:
    """`C:\\Users\\me\\proj` → `/c/Users/me/proj` (what Git Bash's PATH holds)."""
    match = _DRIVE_PARTS.match(path)
    if not match:
        return path.replace("\\", "/")
    drive, rest = match.groups()
    return f"/{drive.lower()}/" + rest.replace("\\", "/")


def windows_to_wsl(path: str) -> str:
    """`C:\\proj` → `/mnt/c/proj`; `\\\\wsl$\\Ubuntu\\home\\me` → `/home/me`; POSIX as is."""
    match = _DRIVE_PARTS.match(path)
    if match:
        drive, rest = match.groups()
        return f"/mnt/{drive.lower()}/" + rest.replace("\\", "/")
    unc = re.match(r"^[\\/]{2}(?:wsl\$|wsl\.localhost)[\\/][^\\/]+(.*)$", path, re.IGNORECASE)
    if unc:
        return unc.group(1).replace("\\", "/") or "/"
    return path


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


def bundled_uv(facts: PlatformFacts) -> str | None:
    """The uv binary of the `uv` package the launcher depends on, when it belongs to `facts`.

    Only for the machine the launcher runs on (`facts.executable` set, same platform): injected
    facts of another OS, or of a machine without a launcher install, have no bundled uv.
    """
    if not facts.executable or facts.platform != sys.platform:
        return None
    try:
        from uv import find_uv_bin
    except ImportError:
        return None
    try:
        found = find_uv_bin()
    except (FileNotFoundError, OSError):
        return None
    return found if os.path.isfile(found) and os.access(found, os.X_OK) else None


def find_uv(facts: PlatformFacts) -> str | None:
    """The uv the launcher uses: its own (the `uv` package), else on PATH, else next to it."""
    return bundled_uv(facts) or find_tool("uv", facts)
