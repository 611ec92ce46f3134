"""The model-load check: does the backend's own fastembed load the model as `up` runs it?

It loads the model in the venv with the environment `up` gives the backend, so it catches what
no file check can: a fastembed that asks the hub first, another cache spelling, a bad onnxruntime.
"""

from __future__ import annotations

from typing import Any

from launcher.checks.core import Check, DoctorContext

CHECK_ID = "model-load"
DOCTOR_LOAD_TIMEOUT = 60.0  # seconds: fastembed's retry pauses are skipped, a load takes ~1-3 s


def _skip(reason: str, details: dict[str, Any]) -> Check:
    details["skipped"] = reason
    return Check(CHECK_ID, "ok", f"model load not tried: {reason}", "", details)


def _venv(ctx: DoctorContext) -> Any:
    """The venv `up` would run the backend in, as a VenvInfo, or None when it does not work."""
    from launcher.checks.venv import _venv_health, _venv_target
    from launcher.venvs import VenvInfo

    target, _, _ = _venv_target(ctx)
    health = _venv_health(ctx)
    if not health.valid or health.python is None:
        return None
    return VenvInfo(target, health.python, False, "reused", health.version or "")


def check_model_load(ctx: DoctorContext) -> Check:
    from launcher.checks.cache import _model_state, model_specs
    from launcher.fastembed.offline import hub_access_for, venv_fastembed_version

    name = ctx.settings.model
    details: dict[str, Any] = {"model": name}
    specs = dict(model_specs(ctx))
    if not name or specs.get(name) is None:
        return _skip(f"no known model configured (see model:{name})", details)
    if ctx.cache is None:
        return _skip("no usable model cache folder (see cache-dir)", details)
    venv = _venv(ctx)
    if venv is None:
        return _skip("no working venv yet (see venv)", details)
    version = venv_fastembed_version(venv.path)
    details["fastembed"] = version
    if version is None:
        return _skip("the venv has no fastembed", details)
    if _model_state(ctx, name).state != "ok":
        return _skip(f"{name} is not in the cache yet (see model:{name})", details)
    hub = hub_access_for(
        venv.path,
        name,
        ctx.env,
        offline=bool(ctx.settings.offline),
        probe=ctx.hub_probe,
        timeout=ctx.hub_timeout,
    )
    return _load(ctx, venv, name, hub, details)


def _load(ctx: DoctorContext, venv: Any, name: str, hub: Any, details: dict[str, Any]) -> Check:
    from launcher.fastembed.trial import loading_env, try_load
    from launcher.venvs import activated_env

    assert ctx.cache is not None
    env = loading_env(activated_env(venv, ctx.env), ctx.cache.path, hub)
    result = try_load(venv.python, name, env, ctx.settings.project, timeout=DOCTOR_LOAD_TIMEOUT)
    version = result.fastembed or details["fastembed"]
    how = "offline" if hub.offline else "asking the hub first, as it must"
    details.update(result.to_json(), fastembed=version, offline=hub.offline)
    if result.ok:
        summary = (
            f"{name} loads with the backend's fastembed {version} ({how}, {result.seconds:.1f} s)"
        )
        return Check(CHECK_ID, "ok", summary, "", details)
    project = ctx.settings.project
    hint = hub.hint or (
        f"`robo-backend prefetch -p {project}` re-checks and repairs the cached model; if the "
        f"load still fails, the venv's fastembed or onnxruntime is broken: delete {venv.path} "
        "and run `robo-backend up`, which reinstalls them."
    )
    summary = (
        f"the backend's fastembed {version} cannot load {name} as `up` runs it ({how}): "
        f"{result.reason()}"
    )
    return Check(CHECK_ID, "fail", summary, hint, details)
