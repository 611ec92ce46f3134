"""Checks of the machine around the project: os, shell, uv, and on Windows the PowerShell
execution policy and long-path support."""

from __future__ import annotations

import sys
from typing import Any

from launcher.checks.core import Check, DoctorContext
from launcher.checks.probes import PROBE_TIMEOUT
from launcher.errors import LauncherError


def check_os(ctx: DoctorContext) -> Check:
    import platform

    wsl = ctx.facts.wsl
    details = {
        "platform": ctx.facts.platform,
        "release": platform.release(),
        "machine": platform.machine(),
        "wsl": wsl,
        "launcher_python": sys.version.split()[0],
    }
    name = {"win32": "Windows", "darwin": "macOS", "linux": "Linux"}.get(
        ctx.facts.platform, ctx.facts.platform
    )
    summary = f"{name}{' (WSL)' if wsl else ''} {details['release']} ({details['machine']})"
    project = str(ctx.settings.project)
    if wsl and project.startswith("/mnt/"):
        return Check(
            "os",
            "warn",
            f"{summary}: the project is on a Windows drive ({project}), which is slow from WSL",
            "Move the project into the Linux file system (e.g. ~/projects) for fast venv "
            "and model access; /mnt/c goes through a slow translation layer.",
            details,
        )
    return Check("os", "ok", summary, "", details)


def _shell(ctx: DoctorContext) -> Any:
    from launcher.shells.detect import detect_shell

    source = ctx.settings.origin("shell").detail
    return ctx.memo("shell", lambda: detect_shell(ctx.facts, ctx.settings.shell, source=source))


def check_shell(ctx: DoctorContext) -> Check:
    try:
        shell = _shell(ctx)
    except LauncherError as exc:
        return Check("shell", "fail", exc.message, exc.hint, {"override": ctx.settings.shell})
    details = {"name": shell.name, "wsl": shell.wsl, "reason": shell.reason}
    label = f"{shell.name}{' inside WSL' if shell.wsl else ''}"
    if shell.name == "unknown":
        return Check(
            "shell",
            "warn",
            f"shell not recognised ({shell.reason})",
            "`up` does not need it; for `activate`, name your shell: --shell bash "
            "(or powershell, cmd, zsh, fish, nu, sh, git-bash).",
            details,
        )
    return Check("shell", "ok", f"shell {label} ({shell.reason})", "", details)


def check_uv(ctx: DoctorContext) -> Check:
    uv = ctx.find_uv(ctx.env)
    if uv is None:
        return Check(
            "uv",
            "warn",
            "uv not found: venvs are made with python -m venv and dependencies "
            "installed with pip (slower)",
            "uv comes with robo-backend: reinstall robo-backend, or pip install uv "
            "(or pipx install uv).",
            {"path": None},
        )
    from launcher import proc

    done = proc.run([uv, "--version"], timeout=PROBE_TIMEOUT, env=ctx.env)
    version = done.stdout.strip() if done.ok else ""
    if not done.ok:
        return Check(
            "uv",
            "warn",
            f"uv at {uv} does not run ({done.tail(1) or f'exit {done.returncode}'})",
            "Reinstall uv (pip install --force-reinstall uv); until then pip is used.",
            {"path": uv, "version": None},
        )
    return Check("uv", "ok", f"{version or 'uv'} at {uv}", "", {"path": uv, "version": version})


_POLICY_SCOPES = ("MachinePolicy", "UserPolicy", "Process", "CurrentUser", "LocalMachine")


def parse_execution_policies(text: str) -> dict[str, str]:
    """{scope: policy} from `Get-ExecutionPolicy -List`'s table (unknown lines ignored)."""
    found: dict[str, str] = {}
    for raw in text.splitlines():
        parts = raw.replace("=", " ").split()
        if len(parts) == 2 and parts[0] in _POLICY_SCOPES:
            found[parts[0]] = parts[1]
    return found


def check_powershell_policy(ctx: DoctorContext) -> Check:
    text = ctx.execution_policy()
    scopes = parse_execution_policies(text)
    if not scopes:
        return Check(
            "powershell-policy",
            "warn",
            "PowerShell's execution policy could not be read",
            "Advice only: `up` needs no scripts. Run `Get-ExecutionPolicy -List` yourself "
            "if Activate.ps1 is refused.",
            {"scopes": {}},
        )
    # The first scope that is not Undefined wins; all Undefined means Restricted (Windows client).
    scope, policy = next(
        ((s, scopes[s]) for s in _POLICY_SCOPES if scopes.get(s, "Undefined") != "Undefined"),
        ("default", "Restricted"),
    )
    details = {"scopes": scopes, "effective": policy, "from": scope}
    if policy in {"Restricted", "AllSigned"}:
        by_policy = scope in {"MachinePolicy", "UserPolicy"}
        fix = (
            "it is set by Group Policy, so Set-ExecutionPolicy cannot change it; "
            if by_policy
            else "or allow local scripts: Set-ExecutionPolicy -Scope CurrentUser RemoteSigned; "
        )
        return Check(
            "powershell-policy",
            "warn",
            f"execution policy {policy} (from {scope}): Activate.ps1 would be refused",
            "Advice only: `up` needs no scripts. To activate by hand use "
            "`robo-backend activate | Invoke-Expression` (plain $env: assignments); "
            + fix
            + "see docs/doctor.md.",
            details,
        )
    return Check(
        "powershell-policy",
        "ok",
        f"execution policy {policy} (from {scope}); `up` needs no scripts anyway",
        "",
        details,
    )


def check_long_paths(ctx: DoctorContext) -> Check:
    enabled = ctx.long_paths()
    details = {"enabled": enabled}
    if enabled:
        return Check(
            "long-paths", "ok", "long paths are enabled (no 260-character limit)", "", details
        )
    state = "disabled" if enabled is False else "unknown (registry not readable)"
    return Check(
        "long-paths",
        "warn",
        f"long-path support is {state}: paths are limited to 260 characters",
        "Keep the cache path short (see cache-dir), or enable long paths as administrator: "
        'New-ItemProperty -Path "HKLM:\\SYSTEM\\CurrentControlSet\\Control\\FileSystem" '
        "-Name LongPathsEnabled -Value 1 -PropertyType DWORD -Force",
        details,
    )
