"""Shell detection over injected platform facts: a table of real-world setups."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from launcher.errors import UsageError
from launcher.shells.detect import PlatformFacts, detect_shell, powershell_from_module_path

WIN_SYSTEM_PS = (
    r"C:\Program Files\WindowsPowerShell\Modules;C:\WINDOWS\system32\WindowsPowerShell\v1.0\Modules"
)
WIN_PS51 = r"C:\Users\ann\Documents\WindowsPowerShell\Modules;" + WIN_SYSTEM_PS
WIN_PWSH7 = (
    r"C:\Users\ann\Documents\PowerShell\Modules;C:\Program Files\PowerShell\Modules;"
    r"c:\program files\powershell\7\Modules;" + WIN_SYSTEM_PS
)
WIN_BASE = {
    "COMSPEC": r"C:\WINDOWS\system32\cmd.exe",
    "PSModulePath": WIN_SYSTEM_PS,
    "PATH": r"C:\WINDOWS\system32;C:\WINDOWS",
}
WSL1 = "4.4.0-19041-Microsoft"
WSL2 = "5.15.153.1-microsoft-standard-WSL2"


@dataclass
class Case:
    id: str
    platform: str
    parents: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    osrelease: str = ""
    override: str | None = None
    expect: str = ""
    wsl: bool = False
    reason_has: str = ""


CASES = [
    Case(
        "powershell-5.1",
        "win32",
        ("powershell.exe", "explorer.exe"),
        {**WIN_BASE, "PSModulePath": WIN_PS51},
        expect="powershell",
        reason_has="powershell.exe",
    ),
    Case(
        "pwsh-7-in-windows-terminal",
        "win32",
        ("pwsh.exe", "WindowsTerminal.exe", "explorer.exe"),
        {**WIN_BASE, "PSModulePath": WIN_PWSH7, "WT_SESSION": "x"},
        expect="pwsh",
    ),
    Case(
        # PowerShell's augmented PSModulePath leaks into a cmd started from it: the parent
        # chain must win over the environment.
        "cmd-started-from-powershell",
        "win32",
        ("cmd.exe", "powershell.exe", "explorer.exe"),
        {**WIN_BASE, "PSModulePath": WIN_PS51},
        expect="cmd",
        reason_has="cmd.exe",
    ),
    Case(
        "pwsh-inside-wsl",
        "linux",
        ("pwsh", "bash", "init"),
        {"WSL_DISTRO_NAME": "Ubuntu", "SHELL": "/bin/bash"},
        WSL2,
        expect="pwsh",
        wsl=True,
        reason_has="WSL_DISTRO_NAME=Ubuntu",
    ),
    Case(
        "bash-inside-wsl1-kernel-only",
        "linux",
        ("bash", "init"),
        {"SHELL": "/bin/bash"},
        WSL1,
        expect="bash",
        wsl=True,
        reason_has="Microsoft",
    ),
    Case(
        "bash-inside-wsl2-interop",
        "linux",
        ("bash", "SessionLeader", "Relay", "init"),
        {"WSL_INTEROP": "/run/WSL/8_interop", "SHELL": "/bin/bash"},
        WSL2,
        expect="bash",
        wsl=True,
        reason_has="WSL_INTEROP",
    ),
    Case(
        "git-bash",
        "win32",
        ("bash.exe", "mintty.exe"),
        {**WIN_BASE, "MSYSTEM": "MINGW64", "SHELL": "/usr/bin/bash"},
        expect="git-bash",
    ),
    Case(
        "vscode-terminal-pwsh",
        "win32",
        ("pwsh.exe", "Code.exe", "Code.exe"),
        {**WIN_BASE, "PSModulePath": WIN_PWSH7, "TERM_PROGRAM": "vscode"},
        expect="pwsh",
    ),
    Case(
        # A VS Code task runs the launcher without a shell in between: SHELL decides.
        "vscode-task-no-shell-linux",
        "linux",
        ("code", "code", "systemd"),
        {"SHELL": "/usr/bin/zsh", "TERM_PROGRAM": "vscode"},
        expect="zsh",
        reason_has="SHELL=/usr/bin/zsh",
    ),
    Case(
        # pyenv-win's python.bat shim runs in cmd.exe under the user's PowerShell; shellingham
        # alone would answer cmd.
        "pyenv-win-cmd-shim",
        "win32",
        ("cmd.exe", "pwsh.exe", "WindowsTerminal.exe"),
        {**WIN_BASE, "PSModulePath": WIN_PWSH7, "PYENV": r"C:\Users\ann\.pyenv\pyenv-win\\"},
        expect="pwsh",
        reason_has="pyenv-win",
    ),
    Case(
        "sh-c-wrapper-under-zsh",
        "linux",
        ("sh", "make", "zsh", "sshd"),
        {"SHELL": "/usr/bin/zsh"},
        expect="zsh",
        reason_has="wrapper",
    ),
    Case(
        "plain-sh",
        "linux",
        ("sh", "cron"),
        {},
        expect="sh",
    ),
    Case(
        "no-parents-windows-pwsh-modules",
        "win32",
        (),
        {**WIN_BASE, "PSModulePath": WIN_PWSH7},
        expect="pwsh",
        reason_has="PSModulePath",
    ),
    Case(
        "no-parents-windows-cmd",
        "win32",
        (),
        dict(WIN_BASE),
        expect="cmd",
        reason_has="COMSPEC",
    ),
    Case(
        "no-parents-linux-shell-var",
        "linux",
        (),
        {"SHELL": "/usr/bin/fish"},
        expect="fish",
    ),
    Case(
        "no-parents-git-bash",
        "win32",
        (),
        {**WIN_BASE, "MSYSTEM": "MINGW64"},
        expect="git-bash",
        reason_has="MSYSTEM",
    ),
    Case("no-parents-nothing", "linux", (), {}, expect="unknown"),
    Case(
        "override-wins-over-everything",
        "win32",
        ("pwsh.exe",),
        {**WIN_BASE, "PSModulePath": WIN_PWSH7},
        override="fish",
        expect="fish",
        reason_has="--shell",
    ),
    Case(
        "override-exe-name",
        "linux",
        ("bash",),
        {},
        override="PowerShell.exe",
        expect="powershell",
    ),
    Case(
        "login-shell-dash-means-SHELL",
        "darwin",
        ("-zsh", "login", "Terminal"),
        {"SHELL": "/bin/zsh"},
        expect="zsh",
        reason_has="login shell",
    ),
    Case(
        "macos-zsh", "darwin", ("zsh", "Terminal", "launchd"), {"SHELL": "/bin/zsh"}, expect="zsh"
    ),
    Case("nushell", "linux", ("nu", "alacritty"), {"SHELL": "/bin/bash"}, expect="nu"),
    Case("tcsh-is-unknown", "linux", ("tcsh", "sshd"), {}, expect="unknown", reason_has="tcsh"),
    Case("dash-is-sh", "linux", ("dash",), {}, expect="sh"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_detect_shell(case: Case) -> None:
    facts = PlatformFacts(case.platform, case.env, case.parents, case.osrelease)
    info = detect_shell(facts, case.override)
    assert (info.name, info.wsl) == (case.expect, case.wsl), info.reason
    assert case.reason_has in info.reason


def test_there_are_at_least_twelve_cases() -> None:
    assert len(CASES) >= 12


def test_env_override_names_its_source() -> None:
    facts = PlatformFacts("linux", {}, ("bash",))
    info = detect_shell(facts, "zsh", source="ROBO_BACKEND_SHELL")
    assert info.name == "zsh"
    assert info.reason == "from ROBO_BACKEND_SHELL"


def test_unknown_override_is_a_usage_error() -> None:
    facts = PlatformFacts("linux", {}, ("bash",))
    with pytest.raises(UsageError) as caught:
        detect_shell(facts, "tcsh")
    assert "tcsh" in caught.value.message
    assert "powershell" in caught.value.hint
    assert caught.value.exit_code == 2


def test_windows_env_lookup_is_case_insensitive() -> None:
    # os.environ upper-cases keys on Windows: PSMODULEPATH, not PSModulePath.
    facts = PlatformFacts("win32", {"PSMODULEPATH": WIN_PS51, "COMSPEC": "cmd.exe"}, ())
    assert detect_shell(facts).name == "powershell"


@pytest.mark.parametrize(
    ("value", "expect"),
    [(WIN_SYSTEM_PS, None), (WIN_PS51, "powershell"), (WIN_PWSH7, "pwsh"), ("", None)],
)
def test_powershell_flavour_from_module_path(value: str, expect: str | None) -> None:
    assert powershell_from_module_path(value) == expect


def test_current_reads_the_real_parent_chain() -> None:
    """A real child started from a real bash sees bash as its nearest parent."""
    code = (
        "from launcher.shells.detect import PlatformFacts, detect_shell; "
        "f = PlatformFacts.current(); "
        "print(f.parents[0]); print(detect_shell(f).name)"
    )
    bash = "/bin/bash"
    if not os.path.exists(bash):
        pytest.skip("no /bin/bash on this machine")
    # `exec` would replace bash; run python as a child of a bash that stays alive.
    done = subprocess.run(
        [bash, "-c", f'"{sys.executable}" -c "{code}"; true'],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    parent, name = done.stdout.split()
    assert parent == "bash"
    assert name == "bash"
