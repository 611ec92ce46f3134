"""Doctor's checks as data, reused by `up` as its pre-flight.

Every check returns `Check(id, status, summary, hint, details)`; the ids are a stable contract
(docs/doctor.md). `warn`: `up` copes but you should know; `fail`: `up` will stop. Nothing heavy
is imported at module top: each check imports what it needs when it runs.
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
