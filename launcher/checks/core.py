"""The framework every check uses: `Check` (one finding), `DoctorContext` (all a check looks at).

A check is a function `DoctorContext -> Check` (or a list: one per model); tests inject facts
through the context.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from launcher.checks.probes import (
    DiskUsage,
    HubAnswer,
    default_find_uv,
    disk_usage,
    execution_policy_list,
    long_paths_enabled,
    port_check,
    probe_hub,
)
from launcher.errors import LauncherError
from launcher.settings import Flags, Settings
from launcher.values import truthy

if TYPE_CHECKING:
    from launcher.models.location import CacheLocation
    from launcher.shells.detect import PlatformFacts

Status = Literal["ok", "warn", "fail"]

HUB_TIMEOUT = 1.0  # seconds: the whole hub probe, DNS included (doctor stays < 2 s)


class PreflightError(LauncherError):
    """A pre-flight check of `up` failed: the message is the check's finding, the hint its fix."""


@dataclass(frozen=True)
class Check:
    """One finding of doctor; `id` is stable (scripts match on it), the rest is for people."""

    id: str
    status: Status
    summary: str
    hint: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DoctorContext:
    """Everything the checks look at; build it with `DoctorContext.build` on a real machine."""

    settings: Settings
    facts: PlatformFacts
    env: Mapping[str, str]
    cache: CacheLocation | None
    port: int
    settings_error: LauncherError | None = None
    cache_error: LauncherError | None = None
    hub_probe: Callable[[str, float, str | None], HubAnswer] = probe_hub
    disk_usage: Callable[[Path], DiskUsage] = disk_usage
    execution_policy: Callable[[], str] = execution_policy_list
    long_paths: Callable[[], bool | None] = long_paths_enabled
    port_probe: Callable[[str, int], None] = port_check
    find_uv: Callable[[Mapping[str, str]], str | None] = field(default=default_find_uv)
    legacy_root: Path | None = None  # None: fastembed's `<temp>/fastembed_cache`
    hub_timeout: float = HUB_TIMEOUT
    quick: bool = False  # the pre-flight: answer from files where a check could run a program
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)
    _memo_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def build(
        cls,
        project: Path,
        *,
        flags: Flags | None = None,
        env: Mapping[str, str] | None = None,
        facts: PlatformFacts | None = None,
        **probes: Any,
    ) -> DoctorContext:
        """Resolve settings and the cache for `project`; a bad setting becomes a failing check
        (doctor still looks at everything else, with the defaults in its place)."""
        from launcher.discover.adopt import adopt_hardwired
        from launcher.model_step import decide_cache
        from launcher.settings import check_project, resolve_settings
        from launcher.shells.detect import PlatformFacts
        from launcher.venvs.interpreters import venv_interpreter

        environ = dict(os.environ if env is None else env)
        root = check_project(project)  # a missing project folder stays a usage error (exit 2)
        settings_error: LauncherError | None = None
        try:
            explicit = resolve_settings(root, flags, environ)
            # with the model and cache_dir the code names
            settings = adopt_hardwired(explicit, venv_interpreter(explicit))
        except LauncherError as exc:
            settings_error = exc
            settings = Settings(project=root)  # the defaults stand in for the bad values
        cache: CacheLocation | None = None
        cache_error: LauncherError | None = None
        try:  # the folder `up` would use, as far as files tell (the venv's fastembed not asked)
            cache = decide_cache(settings, environ).location
        except LauncherError as exc:
            cache_error = exc
        return cls(
            settings=settings,
            facts=facts or PlatformFacts.current(),
            env=environ,
            cache=cache,
            port=settings.port,
            settings_error=settings_error,
            cache_error=cache_error,
            **probes,
        )

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """Compute a shared fact once even when two checks running in parallel need it."""
        with self._memo_lock:
            lock = self._memo.setdefault("lock:" + key, threading.Lock())
        with lock:
            if key not in self._memo:
                self._memo[key] = compute()
            return self._memo[key]

    @property
    def windows(self) -> bool:
        return self.facts.platform == "win32"

    @property
    def offline(self) -> bool:
        return self.settings.offline or truthy(self.env.get("HF_HUB_OFFLINE"))
