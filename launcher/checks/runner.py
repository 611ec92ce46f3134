"""The registry of checks and how they run: doctor runs them all, `up` its pre-flight subset."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loguru import logger

from launcher.checks.cache import check_cache_dir, check_legacy_cache, check_models
from launcher.checks.configuration import check_settings
from launcher.checks.core import Check, DoctorContext, PreflightError
from launcher.checks.model_load import check_model_load
from launcher.checks.model_switch import check_model_switch
from launcher.checks.network import check_hub, check_port
from launcher.checks.project import check_app, check_health_path, check_running, check_state_dir
from launcher.checks.server_packages import check_server_packages
from launcher.checks.system import (
    check_long_paths,
    check_os,
    check_powershell_policy,
    check_shell,
    check_uv,
)
from launcher.checks.venv import check_python, check_venv
from launcher.errors import LauncherError
from launcher.settings import Settings
from launcher.values import truthy

if TYPE_CHECKING:
    from launcher.models.location import CacheLocation
    from launcher.shells.detect import PlatformFacts

CheckFn = Callable[[DoctorContext], Check | list[Check]]  # one finding, or one per thing


@dataclass(frozen=True)
class CheckSpec:
    """A check in the registry: its id (a prefix for per-model ids), the function, where."""

    id: str
    run: CheckFn
    windows_only: bool = False


CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("os", check_os),
    CheckSpec("shell", check_shell),
    CheckSpec("python", check_python),
    CheckSpec("venv", check_venv),
    CheckSpec("server-packages", check_server_packages),
    CheckSpec("uv", check_uv),
    CheckSpec("powershell-policy", check_powershell_policy, windows_only=True),
    CheckSpec("long-paths", check_long_paths, windows_only=True),
    CheckSpec("cache-dir", check_cache_dir),
    CheckSpec("model", check_models),
    CheckSpec("legacy-cache", check_legacy_cache),
    CheckSpec("model-switch", check_model_switch),
    CheckSpec("model-load", check_model_load),
    CheckSpec("hub", check_hub),
    CheckSpec("port", check_port),
    CheckSpec("settings", check_settings),
    CheckSpec("app", check_app),
    CheckSpec("health-path", check_health_path),
    CheckSpec("state-dir", check_state_dir),
    CheckSpec("running", check_running),
)
CHECK_IDS = tuple(spec.id for spec in CHECKS)
# What `up` runs before touching anything: the findings that would make it fail later, and
# none of what it repairs itself (a missing venv or model, a partial cache) or that needs the
# network. The port is probed by `up` itself right after; the app was found (exit 2 when it
# cannot be) before. Doctor runs all of these too: doctor exit 0 means `up` gets past them.
PREFLIGHT_IDS = ("settings", "python", "cache-dir", "health-path", "state-dir")


def _crashed(check_id: str, exc: BaseException) -> Check:
    """A check that raised is reported as a failure of that check, not as a crashed doctor."""
    if isinstance(exc, LauncherError):
        return Check(check_id, "fail", exc.message, exc.hint, {})
    logger.opt(exception=exc).debug(f"check {check_id} crashed")
    return Check(
        check_id,
        "fail",
        f"the {check_id} check crashed: {type(exc).__name__}: {exc}",
        "This is a bug in robo-backend: run with ROBO_BACKEND_DEBUG=1 to see the traceback, "
        "and report it.",
        {"exception": type(exc).__name__},
    )


def run_checks(context: DoctorContext, only: Collection[str] | None = None) -> list[Check]:
    """Run the checks (all, or those in `only`) in parallel; results in registry order."""
    specs = [
        spec
        for spec in CHECKS
        if (only is None or spec.id in only) and (context.windows or not spec.windows_only)
    ]
    debug = truthy(context.env.get("ROBO_BACKEND_DEBUG"))

    def run(spec: CheckSpec) -> list[Check]:
        try:
            found = spec.run(context)
        except Exception as exc:
            if debug:
                raise
            return [_crashed(spec.id, exc)]
        return [found] if isinstance(found, Check) else found

    with ThreadPoolExecutor(max_workers=max(1, len(specs)), thread_name_prefix="doctor") as pool:
        futures = [pool.submit(run, spec) for spec in specs]
        results = [future.result() for future in futures]
    return [check for group in results for check in group]


def preflight(
    settings: Settings,
    *,
    cache: CacheLocation | None,
    port: int,
    facts: PlatformFacts,
    env: Mapping[str, str] | None = None,
    only: Collection[str] = PREFLIGHT_IDS,
    **probes: Any,
) -> list[Check]:
    """`up`'s pre-flight (the checks `only` names): raise PreflightError (exit 1) with the first
    failing check's finding and fix; return the checks (warnings included) when nothing fails.
    No network, no venv creation, nothing `up` repairs by itself."""
    context = DoctorContext(
        settings=settings,
        facts=facts,
        env=dict(os.environ if env is None else env),
        cache=cache,
        port=port,
        quick=True,
        **probes,
    )
    checks = run_checks(context, only=only)
    for check in checks:
        if check.status == "fail":
            raise PreflightError(check.summary, check.hint)
        if check.status == "warn":
            logger.debug(f"pre-flight {check.id}: {check.summary}")
    return checks


def overall_ok(checks: Collection[Check]) -> bool:
    return all(check.status != "fail" for check in checks)


def document(checks: Collection[Check]) -> dict[str, Any]:
    """doctor's JSON document, schema 1."""
    return {"schema": 1, "ok": overall_ok(checks), "checks": [c.to_json() for c in checks]}
