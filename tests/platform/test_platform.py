"""Platform facts: the one Windows-path test, path translation, and where uv is found."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from launcher.platform import (
    PlatformFacts,
    bundled_uv,
    find_uv,
    is_windows_path,
    windows_to_msys,
    windows_to_wsl,
)


@pytest.mark.parametrize(
    ("path", "windows"),
    [
        ("C:\\Users\\me", True),
        ("c:/Users/me", True),
        ("\\\\server\\share\\proj", True),
        ("/home/me/C:\\x", False),
        ("relative\\path", False),
        ("C:relative", False),
        ("/mnt/c/Users", False),
        ("", False),
    ],
)
def test_is_windows_path(path: str, windows: bool) -> None:
    assert is_windows_path(path) is windows


def test_windows_paths_as_git_bash_and_wsl_see_them() -> None:
    assert windows_to_msys("C:\\Program Files (x86)\\proj") == "/c/Program Files (x86)/proj"
    assert windows_to_wsl("D:\\data\\ü") == "/mnt/d/data/ü"
    assert windows_to_wsl("\\\\wsl$\\Ubuntu\\home\\me") == "/home/me"
    assert windows_to_wsl("/home/me") == "/home/me"


def test_the_launcher_uses_its_own_uv_before_path(tmp_path: Path) -> None:
    """The `uv` package's binary wins over a uv on PATH (the one the launcher was tested with)."""
    other = tmp_path / "bin"
    other.mkdir()
    fake = other / "uv"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    facts = PlatformFacts(sys.platform, {"PATH": str(other)}, (), "", sys.executable)
    own = bundled_uv(facts)
    if own is None:
        pytest.skip("the uv package is not installed next to this interpreter")
    assert find_uv(facts) == own != str(fake)
    assert os.access(own, os.X_OK)


def test_injected_windows_facts_never_get_this_machines_uv(tmp_path: Path) -> None:
    facts = PlatformFacts("win32", {"PATH": str(tmp_path)}, (), "", "C:\\py\\python.exe")
    assert bundled_uv(facts) is None
    assert find_uv(facts) is None


def test_a_machine_without_uv_has_none(tmp_path: Path) -> None:
    facts = PlatformFacts(sys.platform, {"PATH": str(tmp_path)}, (), "", "")
    assert find_uv(facts) is None
