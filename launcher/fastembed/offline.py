"""Decide the backend's hub access from its own fastembed: offline only where it loads from cache.

fastembed 0.6.0 to 0.7.3 ask the hub before their cache, so `HF_HUB_OFFLINE=1` breaks them: they
get the hub while it answers, and one line with the fix when it does not (docs/models.md).
`decide` is the pure decision; `hub_access_for` gathers its inputs for a real backend.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launcher.models.outcome import ST_PREFIX
from launcher.models.registry import DEFAULT_ENDPOINT

OFFLINE_VAR = "HF_HUB_OFFLINE"
HUB_FIRST = ("0.6.0", "0.7.4")  # [from, to): these ask the hub before their cache
FIXED_IN = HUB_FIRST[1]
HUB_TIMEOUT = 3.0  # seconds for the one request that tells whether the hub answers
_DIST_INFO = re.compile(r"^fastembed-(?P<version>[^-]+)\.dist-info$", re.IGNORECASE)


@dataclass(frozen=True)
class HubAccess:
    """What the backend's environment says about the hub: `offline` (HF_HUB_OFFLINE=1) or not
    (the variable removed), and `warning`/`hint` when its fastembed cannot load the model here."""

    offline: bool = True
    warning: str | None = None
    hint: str = ""
    fastembed: str | None = None

    def apply(self, env: Mapping[str, str]) -> dict[str, str]:
        """`env` with HF_HUB_OFFLINE set or removed as decided (a new dict)."""
        out = dict(env)
        if self.offline:
            out[OFFLINE_VAR] = "1"
        else:
            out.pop(OFFLINE_VAR, None)
        return out


OFFLINE = HubAccess()  # the backend without fastembed, or one that loads from its cache


def asks_hub_first(version: str | None) -> bool:
    """Does this fastembed ask the hub before its cache (0.6.0 to 0.7.3)? An unknown or
    unreadable version is taken as a current one: no."""
    from packaging.version import InvalidVersion, Version

    try:
        release = (*Version(version or "").release, 0, 0)[:3]  # 0.7.3.post1, 0.7rc1: by release
    except InvalidVersion:
        return False
    low, high = (Version(bound).release for bound in HUB_FIRST)
    return low <= release < high


def decide(
    version: str | None, reachable: bool | None, *, model: str | None = None, why: str = ""
) -> HubAccess:
    """The hub access for fastembed `version` (None: none in the venv); `reachable` (None: not
    asked), `model` and `why` word the warning."""
    if not model or not asks_hub_first(version):
        return HubAccess(offline=True, fastembed=version)
    if reachable:
        return HubAccess(offline=False, fastembed=version)
    reason = f" ({why})" if why else ""
    warning = (
        f"fastembed {version} in the backend's venv cannot load {model} without the hub{reason}: "
        "fastembed 0.6.0 to 0.7.3 ask the hub before their cache, so every load fails (after "
        "about 40 s of retries) although the model is cached"
    )
    hint = (
        f'fastembed {FIXED_IN} or newer loads the cached model offline: require "fastembed>='
        f"{FIXED_IN}\" in the backend's dependencies (or start it where the hub answers)."
    )
    return HubAccess(offline=True, warning=warning, hint=hint, fastembed=version)


# ---------------------------------------------------------------------------------------------
# The inputs of a real backend


def venv_fastembed_version(venv: Path) -> str | None:
    """The version of the fastembed installed in `venv` (its dist-info folder's name), or None."""
    from launcher.fastembed.probe import installed_fastembed

    dist = installed_fastembed(venv)
    found = _DIST_INFO.match(dist.name) if dist is not None else None
    return found.group("version") if found else None


HubProbe = Callable[[str, float, "str | None"], Any]  # checks/probes.py's probe_hub and HubAnswer


def hub_state(
    repo: str,
    env: Mapping[str, str],
    *,
    offline: bool,
    probe: HubProbe | None = None,
    timeout: float = HUB_TIMEOUT,
) -> tuple[bool, str]:
    """(does the hub answer for `repo`, and if not why) as the backend's fastembed would ask it:
    `GET {HF_ENDPOINT}/api/models/{repo}`. The user's offline wish answers without a request."""
    from launcher.redact import redact_url
    from launcher.values import truthy

    if truthy(env.get(OFFLINE_VAR)):
        return False, f"{OFFLINE_VAR}=1 is set"
    if offline:
        return False, "offline mode is on"
    if probe is None:
        from launcher.checks.probes import probe_hub

        probe = probe_hub
    endpoint = ((env.get("HF_ENDPOINT") or "").strip() or DEFAULT_ENDPOINT).rstrip("/")
    token = env.get("HF_TOKEN") or env.get("HUGGING_FACE_HUB_TOKEN") or None
    answer = probe(f"{endpoint}/api/models/{repo}", timeout, token)
    shown = redact_url(endpoint)
    if answer.status is None:
        return False, f"{shown} unreachable: {answer.error}"
    if not 200 <= answer.status < 300:
        return False, f"{shown} answered {answer.status} for {repo}"
    return True, ""


def hub_access_for(
    venv: Path,
    model: str | None,
    env: Mapping[str, str],
    offline: bool = False,
    *,
    probe: HubProbe | None = None,
    timeout: float = HUB_TIMEOUT,
) -> HubAccess:
    """The decision for the backend in `venv` loading `model` (None: degraded), `env` its
    environment; the hub is asked only for a fastembed that asks it first."""
    version = venv_fastembed_version(venv)
    if not model or model.startswith(ST_PREFIX) or not asks_hub_first(version):
        return decide(version, None, model=None)
    from launcher.errors import LauncherError
    from launcher.models.registry import lookup

    try:
        repo = lookup(model).repo
    except LauncherError:  # no hub repo to ask about: let its fastembed ask the hub itself
        return HubAccess(offline=False, fastembed=version)
    reachable, why = hub_state(repo, env, offline=bool(offline), probe=probe, timeout=timeout)
    return decide(version, reachable, model=model, why=why)
