"""Checks of what `up` reaches over the network: the hub (hub) and the port it serves on (port)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from launcher.checks.cache import model_specs
from launcher.checks.core import Check, DoctorContext
from launcher.errors import LauncherError
from launcher.models.failures import proxy_for
from launcher.models.registry import DEFAULT_ENDPOINT
from launcher.redact import redact_url
from launcher.values import truthy

if TYPE_CHECKING:
    from launcher.server.runfile import RunRecord


def _token_value(env: Mapping[str, str]) -> str | None:
    """The token huggingface_hub would send from the environment (never printed)."""
    return env.get("HF_TOKEN") or env.get("HUGGING_FACE_HUB_TOKEN") or None


def _token_set(env: Mapping[str, str]) -> bool:
    """Is a token configured, in the environment or in huggingface_hub's token file?"""
    if _token_value(env):
        return True
    home = env.get("HF_HOME")
    if not home:
        cache_home = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        home = os.path.join(cache_home, "huggingface")
    token_file = env.get("HF_TOKEN_PATH") or os.path.join(home, "token")
    return os.path.isfile(token_file)


def check_hub(ctx: DoctorContext) -> Check:
    raw = (ctx.env.get("HF_ENDPOINT") or "").strip()
    endpoint = (raw or DEFAULT_ENDPOINT).rstrip("/")
    shown = redact_url(endpoint)  # a mirror's login never reaches a report
    details: dict[str, Any] = {
        "endpoint": shown,
        "endpoint_source": "HF_ENDPOINT" if raw else "default",
        "offline": ctx.offline,
        "token_set": _token_set(ctx.env),
    }
    if ctx.offline:
        why = (
            "HF_HUB_OFFLINE"
            if truthy(ctx.env.get("HF_HUB_OFFLINE"))
            else (f"offline = true ({ctx.settings.origin('offline').detail})")
        )
        return Check(
            "hub", "ok", f"offline mode ({why}): the hub {shown} is not contacted", "", details
        )
    specs = [spec for _name, spec in model_specs(ctx) if spec is not None]
    url = f"{endpoint}/api/models/{specs[0].repo}" if specs else f"{endpoint}/api/models"
    details["url"] = redact_url(url)
    answer = ctx.hub_probe(url, ctx.hub_timeout, _token_value(ctx.env))
    details.update(status=answer.status, error=answer.error, ms=round(answer.seconds * 1000))
    token_hint = (
        "Check that HF_TOKEN is valid and has access to the repo."
        if details["token_set"]
        else "Set HF_TOKEN (a read token from huggingface.co/settings/tokens)."
    )
    retry_note = "`up` retries and falls back, and a warm cache needs no hub."
    if answer.status is None:
        proxy = proxy_for(endpoint)
        details["proxy"] = proxy
        through = f" through the proxy {proxy}" if proxy else ""
        return Check(
            "hub",
            "warn",
            f"hub {shown} unreachable{through}: {answer.error}",
            "Check the network, proxy (HTTPS_PROXY/HTTP_PROXY/ALL_PROXY, NO_PROXY) or "
            "HF_ENDPOINT mirror; with the model cached, run offline: ROBO_BACKEND_OFFLINE=1 "
            "(or --offline).",
            details,
        )
    if 200 <= answer.status < 300:
        token = ", token set" if details["token_set"] else ""
        return Check("hub", "ok", f"hub {shown} reachable ({details['ms']} ms{token})", "", details)
    if answer.status in {401, 403}:
        return Check(
            "hub",
            "warn",
            f"hub {shown} refused access ({answer.status})",
            f"{token_hint} {retry_note}",
            details,
        )
    if answer.status == 429:
        return Check(
            "hub",
            "warn",
            f"hub {shown} is rate-limiting this machine (429)",
            f"{token_hint} Authenticated requests get a higher limit.",
            details,
        )
    if answer.status == 404:
        return Check(
            "hub",
            "warn",
            f"hub {shown} answered 404 for {url.rsplit('/api/models/', 1)[-1]}",
            "Check that HF_ENDPOINT points at a Hugging Face mirror that has this repo. "
            + retry_note,
            details,
        )
    return Check(
        "hub",
        "warn",
        f"hub {shown} answered {answer.status}",
        f"The hub or mirror has a problem right now; try again later. {retry_note}",
        details,
    )


def _our_backend_on(ctx: DoctorContext, port: int) -> RunRecord | None:
    """The run file's backend when it is alive and it (or a process under it: a shell or
    uvicorn's reloader) is what listens on `port`; else None (someone else holds the port)."""
    import psutil

    from launcher.server.port import listener_pids
    from launcher.server.runfile import RunState, inspect_run, read_run

    record = read_run(ctx.settings.state_path)
    if record is None or inspect_run(record) not in (RunState.RUNNING, RunState.ORPHAN):
        return None
    for pid in listener_pids(port):
        try:
            lineage = {pid, *(parent.pid for parent in psutil.Process(pid).parents())}
        except psutil.Error:
            continue
        if record.backend_pid in lineage:
            return record
    return None


def check_port(ctx: DoctorContext) -> Check:
    host = ctx.settings.host
    details: dict[str, Any] = {"host": host, "port": ctx.port, "holder": None}
    source = ctx.settings.origin("port").detail
    if ctx.port == 0:
        from launcher.server.port import pick_free_port

        try:
            pick_free_port(host)  # a host that is not this machine's fails here, as in `up`
        except LauncherError as exc:
            return Check("port", "fail", exc.message, exc.hint, details)
        return Check("port", "ok", "port 0: `up` picks a free port when it starts", "", details)
    try:
        ctx.port_probe(host, ctx.port)
    except LauncherError as exc:
        from launcher.server.port import port_holder

        ours = _our_backend_on(ctx, ctx.port)
        if ours is not None:
            details["holder"] = f"pid {ours.backend_pid} (this project's backend)"
            summary = (
                f"port {ctx.port} on {host} is served by this project's backend at {ours.url} "
                f"(pid {ours.backend_pid}, started {ours.started_clock})"
            )
            return Check("port", "ok", summary, "", details)

        details["holder"] = port_holder(host, ctx.port)
        summary = f"{exc.message}; the port comes from {source}"  # no stacked brackets
        return Check("port", "fail", summary, exc.hint, details)
    return Check("port", "ok", f"port {ctx.port} on {host} is free (from {source})", "", details)
