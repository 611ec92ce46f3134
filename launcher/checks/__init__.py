"""Doctor's checks as data, reused by `up` as its pre-flight.

Every check returns a `Check(id, status, summary, hint, details)`: `status` is ok, warn or
fail, `summary` one line a person reads, `hint` a fix they can copy, `details` the facts behind
it for `--json`. The ids are a stable contract (docs/doctor.md lists them).

Everything a check looks at comes through a `DoctorContext`: the resolved settings, the
platform facts, the environment, the cache location, the port, and the probes that touch the
machine (hub request, disk usage, PowerShell's execution policy, the long-path registry value,
the port). Tests inject those instead of patching the world; the real machine gets the
defaults. Checks run in parallel with short timeouts, so doctor finishes in well under 2 s
without a network.

`warn` means "`up` copes (it repairs, downloads or falls back) but you should know";
`fail` means "`up` will stop, or something is definitely misconfigured".

Where things live:
- `core.py`: `Check`, `DoctorContext`, `PreflightError`, `default_settings`;
- `probes.py`: the real probes (the context's defaults);
- `system.py`: os, shell, uv, powershell-policy, long-paths;
- `venv.py`: python (the interpreter that would create the venv), venv;
- `cache.py`: cache-dir, model:<name>, legacy-cache;
- `network.py`: hub, port;
- `settings.py`: settings;
- `project.py`: app, health-path, state-dir, running;
- `runner.py`: the registry (`CHECKS`, `CHECK_IDS`, `PREFLIGHT_IDS`), `run_checks`,
  `preflight`, `overall_ok`, `document`.

This package imports nothing heavy at module top (no fastembed, huggingface_hub or httpx):
the checks import what they need when they run.
"""

from __future__ import annotations

from launcher.checks.cache import (
    SPACE_MARGIN,
    WINDOWS_PATH_BUDGET,
    check_cache_dir,
    check_legacy_cache,
    check_models,
    space_needed,
)
from launcher.checks.configuration import check_settings
from launcher.checks.core import (
    HUB_TIMEOUT,
    Check,
    DoctorContext,
    PreflightError,
    Status,
    default_settings,
)
from launcher.checks.network import DEFAULT_ENDPOINT, check_hub, check_port
from launcher.checks.probes import (
    PROBE_TIMEOUT,
    DiskUsage,
    HubAnswer,
    disk_usage,
    execution_policy_list,
    long_paths_enabled,
    port_check,
    probe_hub,
)
from launcher.checks.project import (
    check_app,
    check_health_path,
    check_running,
    check_state_dir,
)
from launcher.checks.runner import (
    CHECK_IDS,
    CHECKS,
    PREFLIGHT_IDS,
    CheckFn,
    CheckSpec,
    document,
    overall_ok,
    preflight,
    run_checks,
)
from launcher.checks.system import (
    check_long_paths,
    check_os,
    check_powershell_policy,
    check_shell,
    check_uv,
    parse_execution_policies,
)
from launcher.checks.venv import INTERPRETER_TIMEOUT, check_python, check_venv

__all__ = [
    "CHECKS",
    "CHECK_IDS",
    "DEFAULT_ENDPOINT",
    "HUB_TIMEOUT",
    "INTERPRETER_TIMEOUT",
    "PREFLIGHT_IDS",
    "PROBE_TIMEOUT",
    "SPACE_MARGIN",
    "WINDOWS_PATH_BUDGET",
    "Check",
    "CheckFn",
    "CheckSpec",
    "DiskUsage",
    "DoctorContext",
    "HubAnswer",
    "PreflightError",
    "Status",
    "check_app",
    "check_cache_dir",
    "check_health_path",
    "check_hub",
    "check_legacy_cache",
    "check_long_paths",
    "check_models",
    "check_os",
    "check_port",
    "check_powershell_policy",
    "check_python",
    "check_settings",
    "check_running",
    "check_shell",
    "check_state_dir",
    "check_uv",
    "check_venv",
    "default_settings",
    "disk_usage",
    "document",
    "execution_policy_list",
    "long_paths_enabled",
    "overall_ok",
    "parse_execution_policies",
    "port_check",
    "preflight",
    "probe_hub",
    "run_checks",
    "space_needed",
]
