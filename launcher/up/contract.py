"""The launcher-to-backend contract: the environment the backend process is started with.

On top of the activated venv's environment: `FASTEMBED_CACHE_PATH`, `ROBO_BACKEND_MODEL` (empty
when degraded), `ROBO_BACKEND_STATUS_FILE`, and `HF_HUB_OFFLINE` as the backend's fastembed
needs it (`fastembed/offline.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from launcher.fastembed.offline import OFFLINE, HubAccess
from launcher.ui import console

if TYPE_CHECKING:
    from launcher.venvs import VenvInfo


def backend_env(
    base: Mapping[str, str],
    *,
    cache_dir: Path,
    model: str | None,
    status_file: Path,
    hub: HubAccess | None = None,
) -> dict[str, str]:
    """The contract on top of `base` (the activated venv's environment); `hub` (None: offline).
    HF_HUB_DISABLE_PROGRESS_BARS is not set: fastembed warns at every load when it is."""
    env = dict(base, FASTEMBED_CACHE_PATH=str(cache_dir), ROBO_BACKEND_MODEL=model or "")
    env.update(ROBO_BACKEND_STATUS_FILE=str(status_file), PYTHONUNBUFFERED="1")
    return (hub or OFFLINE).apply(env)


def backend_hub(
    venv: VenvInfo, model: str | None, env: Mapping[str, str], offline: bool
) -> HubAccess:
    """The hub access the backend's fastembed gets; a version that cannot load `model` here is
    said before the backend starts (one warning line and its fix)."""
    from launcher.fastembed.offline import hub_access_for

    hub = hub_access_for(venv.path, model, env, offline)
    if hub.warning:
        console.warn(hub.warning, hub.hint)
    return hub
