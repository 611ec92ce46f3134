"""A venv on disk: its pyvenv.cfg, its layout, the OS it was made for, its per-platform name.

Nothing here starts a process: this is what a warm `up` and `doctor --quick` can afford.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from launcher.fileops import read_state_bytes
from launcher.platform import PlatformFacts, is_windows_path, windows_to_wsl


def read_pyvenv_cfg(venv: Path) -> dict[str, str] | None:
    """`pyvenv.cfg` as {key: value} (keys lower-case), None when there is none or it is not a
    regular file (read through a symlink, never blocking: a FIFO there cannot hang us)."""
    data = read_state_bytes(Path(os.path.realpath(venv / "pyvenv.cfg")))
    if data is None:
        return None
    text = data.decode("utf-8", errors="replace")
    values: dict[str, str] = {}
    for raw in text.splitlines():
        key, sep, value = raw.partition("=")
        if sep:
            values[key.strip().lower()] = value.strip()
    return values


def venv_layout(venv: Path) -> str | None:
    """`windows` (Scripts\\python.exe, or Scripts\\ without bin/), `posix` (bin/), or None."""
    scripts, bin_dir = venv / "Scripts", venv / "bin"
    if (scripts / "python.exe").exists() or (scripts.is_dir() and not bin_dir.is_dir()):
        return "windows"
    if bin_dir.is_dir():
        return "posix"
    return None


def venv_python(venv: Path, layout: str | None = None) -> Path:
    """The venv's interpreter path for its layout (it may not exist)."""
    if (layout or venv_layout(venv)) == "windows":
        return venv / "Scripts" / "python.exe"
    bin_dir = venv / "bin"
    for name in ("python", "python3"):
        if os.path.lexists(bin_dir / name):
            return bin_dir / name
    return bin_dir / "python"


def existing_venv_python(venv: Path) -> Path | None:
    """The venv's interpreter when it exists (None: no venv, or a broken one)."""
    python = venv_python(venv)
    return python if python.is_file() else None


def pyvenv_version(venv: Path) -> str:
    """The Python version pyvenv.cfg records (`version_info`, else `version`), "" if none."""
    cfg = read_pyvenv_cfg(venv) or {}
    return cfg.get("version_info") or cfg.get("version") or ""


def site_packages(venv: Path) -> list[Path]:
    """The venv's site-packages folders (`lib/python3.X/` on POSIX, `Lib/` on Windows)."""
    return [*venv.glob("lib/python*/site-packages"), *venv.glob("Lib/site-packages")]


def has_pip(venv: Path) -> bool:
    """True when pip is installed in the venv's site-packages (no process started)."""
    return any((site / "pip" / "__init__.py").is_file() for site in site_packages(venv))


def binary_os(path: Path) -> str | None:
    """linux / macos / windows from an executable's magic bytes (None when unreadable)."""
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
    except OSError:
        return None
    if magic == b"\x7fELF":
        return "linux"
    if magic in {
        b"\xfe\xed\xfa\xce",
        b"\xce\xfa\xed\xfe",
        b"\xfe\xed\xfa\xcf",
        b"\xcf\xfa\xed\xfe",
        b"\xca\xfe\xba\xbe",
    }:
        return "macos"
    if magic[:2] == b"MZ":
        return "windows"
    return None


def venv_built_for(
    venv: Path, cfg: Mapping[str, str] | None, layout: str | None
) -> tuple[str | None, str]:
    """(the OS a venv was made for, the evidence in words)."""
    home = (cfg or {}).get("home", "")
    if layout == "windows":
        evidence = (
            "Scripts\\ without bin/" if not (venv / "bin").is_dir() else "Scripts\\python.exe"
        )
        if home:
            evidence += f", home {home}"
        return "windows", evidence
    if home and is_windows_path(home):
        return "windows", f"pyvenv.cfg home {home}"
    if layout == "posix":
        binary = binary_os(venv_python(venv, "posix"))
        if binary == "windows":
            return "windows", "bin/python is a Windows executable"
        if binary:
            return binary, f"bin/python is a {'Linux' if binary == 'linux' else 'macOS'} executable"
        evidence = "bin/ without Scripts\\"
        if home:
            evidence += f", home {home}"
        return "posix", evidence
    return None, "no bin/ or Scripts\\ folder"


def is_this_os(built_for: str | None, facts: PlatformFacts) -> bool:
    """Can a venv made for `built_for` run here (None: nothing says it cannot)?"""
    if facts.windows:
        return built_for in (None, "windows")
    if built_for in (None, "windows"):
        return built_for is None
    here = {"wsl": "linux"}.get(facts.os_name, facts.os_name)
    return built_for in ("posix", here) or here not in ("linux", "macos")


def os_label(name: str | None) -> str:
    return {
        "windows": "Windows",
        "wsl": "WSL",
        "linux": "Linux",
        "macos": "macOS",
        "posix": "another POSIX system",
    }.get(name or "", name or "an unknown system")


def sibling_path(venv_path: Path, facts: PlatformFacts) -> Path:
    """Where this platform keeps its own venv next to another OS's: `.venv-wsl`, `.venv-windows`…"""
    return venv_path.with_name(f"{venv_path.name}-{facts.os_name}")


def venv_for_platform(venv_path: Path, facts: PlatformFacts) -> tuple[Path, Path | None, str]:
    """(the venv this platform uses, the other OS's venv left alone or None, why in words)."""
    if not venv_path.is_dir():
        return venv_path, None, ""
    cfg = read_pyvenv_cfg(venv_path)
    layout = venv_layout(venv_path)
    if cfg is None and layout is None:
        return venv_path, None, ""
    built_for, evidence = venv_built_for(venv_path, cfg, layout)
    if is_this_os(built_for, facts):
        return venv_path, None, ""
    sibling = sibling_path(venv_path, facts)
    why = (
        f"{venv_path.name} was made on {os_label(built_for)} ({evidence}), so it cannot run on "
        f"{os_label(facts.os_name)}. It is left untouched and {sibling.name} is used here: "
        "one venv per platform, so neither side keeps recreating the other's."
    )
    if facts.wsl and windows_to_wsl(str(venv_path)).startswith("/mnt/"):
        why += (
            " The project is on a Windows drive (/mnt/…), which is slow from WSL: a copy in the "
            "Linux file system (e.g. ~/projects) is much faster."
        )
    return sibling, venv_path, why


def display_path(path: Path, project: Path) -> str:
    """`path` relative to the project when it is inside it (for messages), else as given."""
    return str(path.relative_to(project) if path.is_relative_to(project) else path)


def health_os(venv: Path) -> str | None:
    """The OS a venv folder was made for (None when it is not a venv)."""
    return venv_built_for(venv, read_pyvenv_cfg(venv), venv_layout(venv))[0]
