"""Checks of the model cache: the folder (cache-dir), each configured model (model:<name>),
and fastembed's old temp cache (legacy-cache)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from launcher.checks.core import Check, DoctorContext, Status
from launcher.checks.probes import existing_ancestor, write_probe_in
from launcher.errors import LauncherError
from launcher.values import format_bytes

_RANK = {"ok": 0, "warn": 1, "fail": 2}
WINDOWS_PATH_BUDGET = 115  # characters of cache root that still leave room under MAX_PATH 260
SPACE_MARGIN = 50_000_000  # bytes on top of the model size (files are renamed, not copied)


def model_specs(ctx: DoctorContext) -> list[tuple[str, Any]]:
    """(name, spec or None) of the configured models: the model, then the fallback."""
    from launcher.models.registry import lookup

    def compute() -> list[tuple[str, Any]]:
        specs: list[tuple[str, Any]] = []
        names = [ctx.settings.model, ctx.settings.fallback_model]
        for name in dict.fromkeys(n for n in names if n):
            try:
                specs.append((name, lookup(name)))
            except LauncherError:
                specs.append((name, None))
        return specs

    return ctx.memo("specs", compute)  # type: ignore[no-any-return]


def _model_state(ctx: DoctorContext, name: str) -> Any:
    """The model's cache state, laid out as the venv's fastembed names it when a warm `up`
    remembered that (no process is started), else as the built-in table does."""
    from launcher.fastembed.probe import remembered_specs
    from launcher.models.condition import inspect_model
    from launcher.models.registry import described

    assert ctx.cache is not None
    root = ctx.cache.path
    settings = ctx.settings
    names = [settings.model, settings.fallback_model]

    def inspect() -> Any:
        with described(remembered_specs(settings.venv_path, settings.state_path, names)):
            return inspect_model(root, name)

    return ctx.memo("model:" + name, inspect)


def space_needed(ctx: DoctorContext) -> tuple[int, list[str]]:
    """Bytes the next `up` may download into the cache: the primary model's size plus a margin
    when it is not cached (downloads are renamed into place, never copied; the fallback is
    fetched only when the primary fails)."""
    if ctx.cache is None:
        return 0, []
    for name, spec in model_specs(ctx)[:1]:
        if spec is None:
            return 0, []
        state = _model_state(ctx, name)
        if state.state == "ok":
            return 0, []
        return int(spec.size_hint) + SPACE_MARGIN, [name]
    return 0, []


def check_cache_dir(ctx: DoctorContext) -> Check:
    if ctx.cache is None:
        error = ctx.cache_error or LauncherError(
            "no usable model cache folder",
            "Set --cache-dir or FASTEMBED_CACHE_PATH to a writable folder.",
        )
        return Check("cache-dir", "fail", error.message, error.hint, {})
    cache = ctx.cache
    path = Path(cache.path)
    details: dict[str, Any] = {
        "path": str(path),
        "source": cache.source,
        "persistent": cache.persistent,
        "warnings": list(cache.warnings),
        "exists": path.is_dir(),
    }
    problems: list[tuple[Status, str, str]] = []
    where = f"model cache {path} (from {cache.source})"
    fix_place = (
        "Choose another folder: --cache-dir PATH, FASTEMBED_CACHE_PATH or cache_dir in "
        "[tool.robo-backend]."
    )
    problems.extend(_folder_problems(ctx, path, details, fix_place))
    if not cache.persistent:
        problems.append(
            (
                "warn",
                "it is in a temporary folder that cleaners (Storage Sense, tmp reapers) empty",
                "Unset FASTEMBED_CACHE_PATH to use the persistent default, or set cache_dir to a "
                "folder outside the temp folder.",
            )
        )
    for warning in cache.warnings:
        # The temp-folder and path-length notes are covered above, with their fixes.
        if "temp folder" not in warning and "characters long" not in warning:
            problems.append(("warn", warning, ""))
    if ctx.windows:
        length = len(str(path))
        details["path_length"] = length
        if length > WINDOWS_PATH_BUDGET:
            problems.append(
                (
                    "warn",
                    f"the path is {length} characters long: model files under it may exceed "
                    "Windows' 260-character limit",
                    f"Use a short cache path (at most {WINDOWS_PATH_BUDGET} characters), e.g. "
                    "--cache-dir C:\\rb-cache, or enable long paths (see long-paths).",
                )
            )
    if not problems:
        free = details.get("free_bytes")
        extra = f", {format_bytes(free)} free" if isinstance(free, int) else ""
        kind = "persistent" if cache.persistent else "temporary"
        return Check("cache-dir", "ok", f"{where}: {kind}, writable{extra}", "", details)
    status: Status = max((p[0] for p in problems), key=_RANK.__getitem__)
    shown = [p for p in problems if p[0] == status] + [p for p in problems if p[0] != status]
    details["problems"] = [p[1] for p in shown]
    summary = f"{where}: " + "; ".join(p[1] for p in shown)
    hint = " ".join(dict.fromkeys(p[2] for p in shown if p[2]))
    return Check("cache-dir", status, summary, hint, details)


def _folder_problems(
    ctx: DoctorContext, path: Path, details: dict[str, Any], fix_place: str
) -> list[tuple[Status, str, str]]:
    """The cache folder itself: a folder (not a file), writable, with room for the models."""
    from launcher.models.location import write_probe

    if os.path.lexists(path) and not path.is_dir():
        return [("fail", f"{path} exists but is not a folder", f"Move that file away. {fix_place}")]
    problems: list[tuple[Status, str, str]] = []
    probe_in = path if path.is_dir() else existing_ancestor(path)
    error = write_probe_in(probe_in) if probe_in != path else write_probe(path)
    details["writable"] = error is None
    if error is not None:
        problems.append(
            (
                "fail",
                f"not writable ({probe_in}: {error})",
                f"Give your user write access to {probe_in}, or: {fix_place}",
            )
        )
    try:
        usage = ctx.disk_usage(probe_in)
    except OSError as exc:
        return [*problems, ("warn", f"free space unknown ({exc.strerror or exc})", "")]
    needed, for_models = space_needed(ctx)
    details["free_bytes"] = usage.free
    details["needed_bytes"] = needed
    if needed and usage.free < needed:
        problems.append(
            (
                "fail",
                f"only {format_bytes(usage.free)} free, {for_models[0]} needs about "
                f"{format_bytes(needed)}",
                f"Free disk space on that drive, or: {fix_place}",
            )
        )
    return problems


def check_models(ctx: DoctorContext) -> list[Check]:
    specs = model_specs(ctx)
    return [_check_model(ctx, name, spec, fallback=i > 0) for i, (name, spec) in enumerate(specs)]


def _check_model(ctx: DoctorContext, name: str, spec: Any, *, fallback: bool) -> Check:
    check_id = f"model:{name}"
    role = "fallback model" if fallback else "model"
    setting = "fallback_model" if fallback else "model"
    if spec is None:
        from launcher.models.registry import lookup

        try:
            lookup(name)
        except LauncherError as exc:
            return Check(
                check_id,
                "fail",
                f"{role} {name} ({ctx.settings.origin(setting).detail}): {exc.message}",
                exc.hint,
                {"model": name, "known": False},
            )
    if ctx.cache is None:
        return Check(
            check_id,
            "warn",
            f"{role} {name}: cache state unknown (no usable cache folder, see cache-dir)",
            "",
            {"model": name},
        )
    from launcher.models.lock import lock_holder

    state = _model_state(ctx, name)
    details = {
        "model": name,
        "repo": state.repo,
        "state": state.state,
        "path": str(state.path) if state.path else None,
        "bytes": state.size,
        "problems": list(state.problems),
        "role": "fallback" if fallback else "primary",
        "source": state.source.to_json() if state.source else None,
    }
    holder = lock_holder(Path(ctx.cache.path), name)
    details["lock_holder"] = holder
    if holder is not None:
        return Check(
            check_id,
            "ok",
            f"{role} {name} is being downloaded right now by pid {holder}",
            "",
            details,
        )
    if state.state == "ok":
        return _cached_model(ctx, check_id, f"{role} {name}", state, details)
    if state.state == "missing":
        if fallback:
            return Check(
                check_id,
                "ok",
                f"{role} {name} not downloaded (fetched only if the primary model fails)",
                "",
                details,
            )
        if ctx.offline:
            status: Status = "fail" if ctx.settings.require_model else "warn"
            return Check(
                check_id,
                status,
                f"{role} {name} is not cached and offline mode is on: `up` would run "
                + ("and fail (require_model)" if status == "fail" else "degraded"),
                "Download it once while online: robo-backend prefetch -p "
                f"{ctx.settings.project} (with HF_HUB_OFFLINE unset and offline off).",
                details,
            )
        return Check(
            check_id,
            "warn",
            f"{role} {name} not downloaded yet (`up` downloads it, "
            f"about {format_bytes(int(spec.size_hint))})",
            f"Download it now: robo-backend prefetch -p {ctx.settings.project}",
            details,
        )
    problem = f": {state.problems[0]}" if state.problems else ""
    return Check(
        check_id,
        "warn",
        f"{role} {name} is {state.state} in the cache{problem}",
        "`up` and `prefetch` repair it by re-downloading only this model; to remove it now: "
        f"robo-backend clear-cache --broken -p {ctx.settings.project}",
        details,
    )


def _cached_model(
    ctx: DoctorContext, check_id: str, who: str, state: Any, details: dict[str, Any]
) -> Check:
    """A complete model: where it came from, flagged when that is not the current endpoint."""
    from launcher.models.provenance import current_endpoint

    source = state.source
    origin = f"; {source.describe()}" if source else ""
    summary = f"{who} cached and complete ({format_bytes(state.size or 0)}{origin})"
    current = current_endpoint(ctx.env)
    if source is None or not source.other_endpoint(current):
        return Check(check_id, "ok", summary, "", details)
    details["current_endpoint"] = current
    return Check(
        check_id,
        "warn",
        f"{summary}: fetched from {source.endpoint}, not from the current endpoint {current}",
        f"If it should come from {current}: robo-backend clear-cache --model {state.model} "
        f"-p {ctx.settings.project}, then robo-backend prefetch -p {ctx.settings.project}",
        details,
    )


def check_legacy_cache(ctx: DoctorContext) -> Check:
    from launcher.cleanup import tree_size
    from launcher.models.location import legacy_cache_dir

    legacy = Path(ctx.legacy_root or legacy_cache_dir())
    details: dict[str, Any] = {"path": str(legacy), "exists": legacy.is_dir()}
    if not legacy.is_dir():
        return Check("legacy-cache", "ok", f"no old fastembed temp cache ({legacy})", "", details)
    in_use = ctx.cache is not None and os.path.realpath(ctx.cache.path) == os.path.realpath(legacy)
    size = tree_size(legacy)
    details.update(bytes=size, in_use=in_use)
    if in_use:
        return Check(
            "legacy-cache",
            "ok",
            f"the old fastembed temp cache {legacy} is the cache in use (see cache-dir)",
            "",
            details,
        )
    if size == 0:
        return Check(
            "legacy-cache", "ok", f"old fastembed temp cache {legacy} is empty", "", details
        )
    return Check(
        "legacy-cache",
        "warn",
        f"old fastembed temp cache {legacy} holds {format_bytes(size)}",
        "A valid model there is reused by `up` (no new download); after that it is only "
        f"wasted space: robo-backend clear-cache --legacy -p {ctx.settings.project}",
        details,
    )
