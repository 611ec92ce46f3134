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
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from loguru import logger

from launcher.errors import LauncherError
from launcher.settings import SPECS, Settings, Value

if TYPE_CHECKING:
    from launcher.models.cache import CacheLocation
    from launcher.shells import PlatformFacts

Status = Literal["ok", "warn", "fail"]
_RANK = {"ok": 0, "warn": 1, "fail": 2}

HUB_TIMEOUT = 1.5  # seconds: the whole hub probe, DNS included (doctor stays < 2 s)
PROBE_TIMEOUT = 1.5  # seconds: PowerShell, `uv --version`
# A cold interpreter start under an antivirus scan can take seconds: a short timeout here would
# report a working Python as broken, so interpreters get longer (they answer in ~20 ms usually).
INTERPRETER_TIMEOUT = 10.0
WINDOWS_PATH_BUDGET = 115  # characters of cache root that still leave room under MAX_PATH 260
SPACE_MARGIN = 50_000_000  # bytes on top of twice the model size (download + temp copy)
DEFAULT_ENDPOINT = "https://huggingface.co"
TRUTHY = {"1", "true", "yes", "on"}


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
        return {
            "id": self.id,
            "status": self.status,
            "summary": self.summary,
            "hint": self.hint,
            "details": self.details,
        }


class HubAnswer(NamedTuple):
    """What a hub probe got: an HTTP status, or an error text when no answer came."""

    status: int | None
    error: str | None
    seconds: float


class DiskUsage(NamedTuple):
    total: int
    used: int
    free: int


# ---------------------------------------------------------------------------------------------
# Real probes (the defaults of DoctorContext)


def probe_hub(url: str, timeout: float, token: str | None = None) -> HubAnswer:
    """One real GET of `url`, bounded by `timeout` in total (name resolution included).

    urllib's own timeout does not cover DNS, so the request runs in a daemon thread that is
    abandoned when the time is up: a machine with no network answers in `timeout`, not in the
    resolver's 5-20 s.
    """
    import urllib.error
    import urllib.request

    result: list[HubAnswer] = []
    started = time.perf_counter()
    silent = f"no answer within {timeout:g} s"

    def request() -> None:
        headers = {"User-Agent": "robo-backend-doctor"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(url, headers=headers, method="GET")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310
                response.read(65536)
                result.append(HubAnswer(response.status, None, time.perf_counter() - started))
        except urllib.error.HTTPError as exc:
            result.append(HubAnswer(exc.code, None, time.perf_counter() - started))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            text = silent if isinstance(reason, TimeoutError) else str(reason)
            result.append(HubAnswer(None, text, time.perf_counter() - started))

    worker = threading.Thread(target=request, name="doctor-hub-probe", daemon=True)
    worker.start()
    worker.join(timeout)
    if result:
        return result[0]
    return HubAnswer(None, silent, time.perf_counter() - started)


def disk_usage(path: Path) -> DiskUsage:
    total, used, free = shutil.disk_usage(path)
    return DiskUsage(total, used, free)


def execution_policy_list() -> str:
    """The text of `Get-ExecutionPolicy -List` (Windows PowerShell), "" when it cannot run."""
    from launcher import proc

    for exe in ("powershell", "pwsh"):
        done = proc.run(
            [exe, "-NoProfile", "-NonInteractive", "-Command", "Get-ExecutionPolicy -List"],
            timeout=PROBE_TIMEOUT,
        )
        if done.ok:
            return done.stdout
        if done.returncode != 127:  # it exists but failed or timed out: do not wait twice
            break
    return ""


def long_paths_enabled() -> bool | None:
    """`LongPathsEnabled` from the registry; None when it cannot be read (not Windows)."""
    try:
        import winreg  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        key = winreg.OpenKey(  # type: ignore[attr-defined]
            winreg.HKEY_LOCAL_MACHINE,  # type: ignore[attr-defined]
            r"SYSTEM\CurrentControlSet\Control\FileSystem",
        )
        value, _ = winreg.QueryValueEx(key, "LongPathsEnabled")  # type: ignore[attr-defined]
    except OSError:
        return None
    return bool(value)


def port_check(host: str, port: int) -> None:
    """The same port probe `up` runs (raises PortInUseError naming the holder)."""
    from launcher.server import check_port

    check_port(host, port)


def _default_find_uv(env: Mapping[str, str]) -> str | None:
    from launcher.deps import find_uv

    return find_uv(env)


# ---------------------------------------------------------------------------------------------
# The context


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
    find_uv: Callable[[Mapping[str, str]], str | None] = field(default=_default_find_uv)
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
        flags: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        facts: PlatformFacts | None = None,
        **probes: Any,
    ) -> DoctorContext:
        """Resolve settings and the cache for `project`; a bad setting becomes a failing check
        (doctor still looks at everything else, with the defaults in its place)."""
        from launcher.models.cache import resolve_cache_dir
        from launcher.settings import check_project, resolve_settings
        from launcher.shells import PlatformFacts

        environ = dict(os.environ if env is None else env)
        root = check_project(project)  # a missing project folder stays a usage error (exit 2)
        settings_error: LauncherError | None = None
        try:
            settings = resolve_settings(root, flags, environ)
        except LauncherError as exc:
            settings_error = exc
            settings = default_settings(root)
        cache: CacheLocation | None = None
        cache_error: LauncherError | None = None
        try:
            cache = resolve_cache_dir(settings.cache_dir, settings.source("cache_dir"), environ)
        except LauncherError as exc:
            cache_error = exc
        return cls(
            settings=settings,
            facts=facts or PlatformFacts.current(),
            env=environ,
            cache=cache,
            port=int(settings.port),
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
        return bool(self.settings.offline) or _truthy(self.env.get("HF_HUB_OFFLINE"))


def default_settings(project: Path) -> Settings:
    """Every setting at its built-in default (doctor's stand-in when the real ones are invalid)."""
    return Settings(project=project, values={s.name: Value(s.default, "default") for s in SPECS})


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in TRUTHY


def _worst(statuses: Collection[str]) -> Status:
    worst: Status = "ok"
    for status in statuses:
        if _RANK[status] > _RANK[worst]:
            worst = status  # type: ignore[assignment]
    return worst


def _format_bytes(size: int) -> str:
    from launcher.cleanup import format_bytes

    return format_bytes(size)


# ---------------------------------------------------------------------------------------------
# The checks, in the order doctor shows them


def check_os(ctx: DoctorContext) -> list[Check]:
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
        return [
            Check(
                "os",
                "warn",
                f"{summary}: the project is on a Windows drive ({project}), which is slow from WSL",
                "Move the project into the Linux file system (e.g. ~/projects) for fast venv "
                "and model access; /mnt/c goes through a slow translation layer.",
                details,
            )
        ]
    return [Check("os", "ok", summary, "", details)]


def _shell(ctx: DoctorContext) -> Any:
    from launcher.shells import detect_shell

    source = ctx.settings.source("shell")
    return ctx.memo("shell", lambda: detect_shell(ctx.facts, ctx.settings.shell, source=source))


def check_shell(ctx: DoctorContext) -> list[Check]:
    try:
        shell = _shell(ctx)
    except LauncherError as exc:
        return [Check("shell", "fail", exc.message, exc.hint, {"override": ctx.settings.shell})]
    details = {"name": shell.name, "wsl": shell.wsl, "reason": shell.reason}
    label = f"{shell.name}{' inside WSL' if shell.wsl else ''}"
    if shell.name == "unknown":
        return [
            Check(
                "shell",
                "warn",
                f"shell not recognised ({shell.reason})",
                "`up` does not need it; for `activate`, name your shell: --shell bash "
                "(or powershell, cmd, zsh, fish, nu, sh, git-bash).",
                details,
            )
        ]
    return [Check("shell", "ok", f"shell {label} ({shell.reason})", "", details)]


CheckFn = Callable[[DoctorContext], list[Check]]


def check_uv(ctx: DoctorContext) -> list[Check]:
    uv = ctx.find_uv(ctx.env)
    if uv is None:
        return [
            Check(
                "uv",
                "warn",
                "uv not found: venvs are made with python -m venv and dependencies "
                "installed with pip (slower)",
                "Install uv for faster installs: pip install uv (or pipx install uv).",
                {"path": None},
            )
        ]
    from launcher import proc

    done = proc.run([uv, "--version"], timeout=PROBE_TIMEOUT, env=ctx.env)
    version = done.stdout.strip() if done.ok else ""
    if not done.ok:
        return [
            Check(
                "uv",
                "warn",
                f"uv at {uv} does not run ({done.tail(1) or f'exit {done.returncode}'})",
                "Reinstall uv (pip install --force-reinstall uv); until then pip is used.",
                {"path": uv, "version": None},
            )
        ]
    return [Check("uv", "ok", f"{version or 'uv'} at {uv}", "", {"path": uv, "version": version})]


_POLICY_SCOPES = ("MachinePolicy", "UserPolicy", "Process", "CurrentUser", "LocalMachine")


def parse_execution_policies(text: str) -> dict[str, str]:
    """{scope: policy} from `Get-ExecutionPolicy -List`'s table (unknown lines ignored)."""
    found: dict[str, str] = {}
    for raw in text.splitlines():
        parts = raw.replace("=", " ").split()
        if len(parts) == 2 and parts[0] in _POLICY_SCOPES:
            found[parts[0]] = parts[1]
    return found


def check_powershell_policy(ctx: DoctorContext) -> list[Check]:
    text = ctx.execution_policy()
    scopes = parse_execution_policies(text)
    if not scopes:
        return [
            Check(
                "powershell-policy",
                "warn",
                "PowerShell's execution policy could not be read",
                "Advice only: `up` needs no scripts. Run `Get-ExecutionPolicy -List` yourself "
                "if Activate.ps1 is refused.",
                {"scopes": {}},
            )
        ]
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
        return [
            Check(
                "powershell-policy",
                "warn",
                f"execution policy {policy} (from {scope}): Activate.ps1 would be refused",
                "Advice only: `up` needs no scripts. To activate by hand use "
                "`robo-backend activate | Invoke-Expression` (plain $env: assignments); "
                + fix
                + "see docs/doctor.md.",
                details,
            )
        ]
    return [
        Check(
            "powershell-policy",
            "ok",
            f"execution policy {policy} (from {scope}); `up` needs no scripts anyway",
            "",
            details,
        )
    ]


def check_long_paths(ctx: DoctorContext) -> list[Check]:
    enabled = ctx.long_paths()
    details = {"enabled": enabled}
    if enabled:
        return [Check("long-paths", "ok", "long paths are enabled (no 260-character limit)", "",
                      details)]
    state = "disabled" if enabled is False else "unknown (registry not readable)"
    return [
        Check(
            "long-paths",
            "warn",
            f"long-path support is {state}: paths are limited to 260 characters",
            "Keep the cache path short (see cache-dir), or enable long paths as administrator: "
            'New-ItemProperty -Path "HKLM:\\SYSTEM\\CurrentControlSet\\Control\\FileSystem" '
            "-Name LongPathsEnabled -Value 1 -PropertyType DWORD -Force",
            details,
        )
    ]


def _existing_ancestor(path: Path) -> Path:
    current = path
    while not os.path.lexists(current) and current.parent != current:
        current = current.parent
    return current


def _write_probe(folder: Path) -> str | None:
    """None when a file can really be created and deleted in `folder`, else the error text."""
    try:
        handle, name = tempfile.mkstemp(prefix=".robo-backend-probe-", dir=folder)
        os.close(handle)
        os.unlink(name)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _model_specs(ctx: DoctorContext) -> list[tuple[str, Any]]:
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
    from launcher.models.cache import inspect_model

    assert ctx.cache is not None
    root = ctx.cache.path
    return ctx.memo("model:" + name, lambda: inspect_model(root, name))


def space_needed(ctx: DoctorContext) -> tuple[int, list[str]]:
    """Bytes the next `up` may download into the cache: twice the primary model's size plus a
    margin when it is not cached (the fallback is fetched only when the primary fails)."""
    if ctx.cache is None:
        return 0, []
    for name, spec in _model_specs(ctx)[:1]:
        if spec is None:
            return 0, []
        state = _model_state(ctx, name)
        if state.state == "ok":
            return 0, []
        return 2 * int(spec.size_hint) + SPACE_MARGIN, [name]
    return 0, []


def check_cache_dir(ctx: DoctorContext) -> list[Check]:
    if ctx.cache is None:
        error = ctx.cache_error
        return [
            Check(
                "cache-dir",
                "fail",
                error.message if error else "no usable model cache folder",
                error.hint if error else "Set --cache-dir or FASTEMBED_CACHE_PATH to a writable "
                "folder.",
                {},
            )
        ]
    from launcher.models.cache import write_probe

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
    if os.path.lexists(path) and not path.is_dir():
        problems.append(
            ("fail", f"{path} exists but is not a folder", f"Move that file away. {fix_place}")
        )
    else:
        probe_in = path if path.is_dir() else _existing_ancestor(path)
        error = _write_probe(probe_in) if probe_in != path else write_probe(path)
        details["writable"] = error is None
        if error is not None:
            problems.append(("fail", f"not writable ({probe_in}: {error})",
                             f"Give your user write access to {probe_in}, or: {fix_place}"))
        try:
            usage = ctx.disk_usage(probe_in)
        except OSError as exc:
            usage = None
            problems.append(("warn", f"free space unknown ({exc.strerror or exc})", ""))
        if usage is not None:
            needed, for_models = space_needed(ctx)
            details["free_bytes"] = usage.free
            details["needed_bytes"] = needed
            if needed and usage.free < needed:
                problems.append((
                    "fail",
                    f"only {_format_bytes(usage.free)} free, {for_models[0]} needs about "
                    f"{_format_bytes(needed)}",
                    f"Free disk space on that drive, or: {fix_place}",
                ))
    if not cache.persistent:
        problems.append((
            "warn",
            "it is in a temporary folder that cleaners (Storage Sense, tmp reapers) empty",
            "Unset FASTEMBED_CACHE_PATH to use the persistent default, or set cache_dir to a "
            "folder outside the temp folder.",
        ))
    for warning in cache.warnings:
        # The temp-folder and path-length notes are covered above, with their fixes.
        if "temp folder" not in warning and "characters long" not in warning:
            problems.append(("warn", warning, ""))
    if ctx.windows:
        length = len(str(path))
        details["path_length"] = length
        if length > WINDOWS_PATH_BUDGET:
            problems.append((
                "warn",
                f"the path is {length} characters long: model files under it may exceed "
                "Windows' 260-character limit",
                f"Use a short cache path (at most {WINDOWS_PATH_BUDGET} characters), e.g. "
                "--cache-dir C:\\rb-cache, or enable long paths (see long-paths).",
            ))
    if not problems:
        free = details.get("free_bytes")
        extra = f", {_format_bytes(free)} free" if isinstance(free, int) else ""
        kind = "persistent" if cache.persistent else "temporary"
        return [Check("cache-dir", "ok", f"{where}: {kind}, writable{extra}", "", details)]
    status = _worst([p[0] for p in problems])
    shown = [p for p in problems if p[0] == status] + [p for p in problems if p[0] != status]
    details["problems"] = [p[1] for p in shown]
    summary = f"{where}: " + "; ".join(p[1] for p in shown)
    hint = " ".join(dict.fromkeys(p[2] for p in shown if p[2]))
    return [Check("cache-dir", status, summary, hint, details)]


def check_models(ctx: DoctorContext) -> list[Check]:
    found: list[Check] = []
    for index, (name, spec) in enumerate(_model_specs(ctx)):
        found.append(_check_model(ctx, name, spec, fallback=index > 0))
    return found


def _check_model(ctx: DoctorContext, name: str, spec: Any, *, fallback: bool) -> Check:
    check_id = f"model:{name}"
    role = "fallback model" if fallback else "model"
    setting = "fallback_model" if fallback else "model"
    if spec is None:
        from launcher.models.registry import lookup

        try:
            lookup(name)
        except LauncherError as exc:
            return Check(check_id, "fail", f"{role} {name} ({ctx.settings.source(setting)}): "
                         f"{exc.message}", exc.hint, {"model": name, "known": False})
    if ctx.cache is None:
        return Check(check_id, "warn", f"{role} {name}: cache state unknown (no usable cache "
                     "folder, see cache-dir)", "", {"model": name})
    from launcher.models.cache import lock_holder

    state = _model_state(ctx, name)
    details = {
        "model": name,
        "repo": state.repo,
        "state": state.state,
        "path": str(state.path) if state.path else None,
        "bytes": state.size,
        "problems": list(state.problems),
        "role": "fallback" if fallback else "primary",
    }
    holder = lock_holder(Path(ctx.cache.path), name)
    details["lock_holder"] = holder
    if holder is not None:
        return Check(check_id, "ok", f"{role} {name} is being downloaded right now by pid "
                     f"{holder}", "", details)
    if state.state == "ok":
        return Check(check_id, "ok", f"{role} {name} cached and complete "
                     f"({_format_bytes(state.size or 0)})", "", details)
    if state.state == "missing":
        if fallback:
            return Check(check_id, "ok", f"{role} {name} not downloaded (fetched only if the "
                         "primary model fails)", "", details)
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
            f"about {_format_bytes(int(spec.size_hint))})",
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


def check_legacy_cache(ctx: DoctorContext) -> list[Check]:
    from launcher.cleanup import tree_size
    from launcher.models.cache import legacy_cache_dir

    legacy = Path(ctx.legacy_root or legacy_cache_dir())
    details: dict[str, Any] = {"path": str(legacy), "exists": legacy.is_dir()}
    if not legacy.is_dir():
        return [Check("legacy-cache", "ok", f"no old fastembed temp cache ({legacy})", "", details)]
    in_use = ctx.cache is not None and os.path.realpath(ctx.cache.path) == os.path.realpath(legacy)
    size = tree_size(legacy)
    details.update(bytes=size, in_use=in_use)
    if in_use:
        return [Check("legacy-cache", "ok", f"the old fastembed temp cache {legacy} is the cache "
                      "in use (see cache-dir)", "", details)]
    if size == 0:
        return [Check("legacy-cache", "ok", f"old fastembed temp cache {legacy} is empty", "",
                      details)]
    return [
        Check(
            "legacy-cache",
            "warn",
            f"old fastembed temp cache {legacy} holds {_format_bytes(size)}",
            "A valid model there is reused by `up` (no new download); after that it is only "
            f"wasted space: robo-backend clear-cache --legacy -p {ctx.settings.project}",
            details,
        )
    ]


def _token_set(env: Mapping[str, str]) -> bool:
    if env.get("HF_TOKEN") or env.get("HUGGING_FACE_HUB_TOKEN"):
        return True
    home = env.get("HF_HOME")
    if not home:
        cache_home = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        home = os.path.join(cache_home, "huggingface")
    token_file = env.get("HF_TOKEN_PATH") or os.path.join(home, "token")
    return os.path.isfile(token_file)


def _token_value(env: Mapping[str, str]) -> str | None:
    return env.get("HF_TOKEN") or env.get("HUGGING_FACE_HUB_TOKEN") or None


def check_hub(ctx: DoctorContext) -> list[Check]:
    raw = (ctx.env.get("HF_ENDPOINT") or "").strip()
    endpoint = (raw or DEFAULT_ENDPOINT).rstrip("/")
    details: dict[str, Any] = {
        "endpoint": endpoint,
        "endpoint_source": "HF_ENDPOINT" if raw else "default",
        "offline": ctx.offline,
        "token_set": _token_set(ctx.env),
    }
    if ctx.offline:
        why = "HF_HUB_OFFLINE" if _truthy(ctx.env.get("HF_HUB_OFFLINE")) else (
            f"offline = true ({ctx.settings.source('offline')})")
        return [Check("hub", "ok", f"offline mode ({why}): the hub {endpoint} is not contacted",
                      "", details)]
    specs = [spec for _name, spec in _model_specs(ctx) if spec is not None]
    url = f"{endpoint}/api/models/{specs[0].repo}" if specs else f"{endpoint}/api/models"
    details["url"] = url
    answer = ctx.hub_probe(url, ctx.hub_timeout, _token_value(ctx.env))
    details.update(status=answer.status, error=answer.error, ms=round(answer.seconds * 1000))
    token_hint = (
        "Check that HF_TOKEN is valid and has access to the repo."
        if details["token_set"]
        else "Set HF_TOKEN (a read token from huggingface.co/settings/tokens)."
    )
    retry_note = "`up` retries and falls back, and a warm cache needs no hub."
    if answer.status is None:
        return [Check(
            "hub",
            "warn",
            f"hub {endpoint} unreachable: {answer.error}",
            "Check the network, proxy (HTTPS_PROXY) or HF_ENDPOINT mirror; with the model "
            "cached, run offline: ROBO_BACKEND_OFFLINE=1 (or --offline).",
            details,
        )]
    if 200 <= answer.status < 300:
        token = ", token set" if details["token_set"] else ""
        return [Check("hub", "ok", f"hub {endpoint} reachable ({details['ms']} ms{token})", "",
                      details)]
    if answer.status in {401, 403}:
        return [Check("hub", "warn", f"hub {endpoint} refused access ({answer.status})",
                      f"{token_hint} {retry_note}", details)]
    if answer.status == 429:
        return [Check("hub", "warn", f"hub {endpoint} is rate-limiting this machine (429)",
                      f"{token_hint} Authenticated requests get a higher limit.", details)]
    if answer.status == 404:
        return [Check(
            "hub",
            "warn",
            f"hub {endpoint} answered 404 for {url.rsplit('/api/models/', 1)[-1]}",
            "Check that HF_ENDPOINT points at a Hugging Face mirror that has this repo. "
            + retry_note,
            details,
        )]
    return [Check(
        "hub",
        "warn",
        f"hub {endpoint} answered {answer.status}",
        f"The hub or mirror has a problem right now; try again later. {retry_note}",
        details,
    )]


def check_port(ctx: DoctorContext) -> list[Check]:
    host = ctx.settings.host
    details: dict[str, Any] = {"host": host, "port": ctx.port, "holder": None}
    source = ctx.settings.source("port")
    if ctx.port == 0:
        return [Check("port", "ok", "port 0: `up` picks a free port when it starts", "", details)]
    try:
        ctx.port_probe(host, ctx.port)
    except LauncherError as exc:
        from launcher.server import port_holder

        details["holder"] = port_holder(host, ctx.port)
        return [Check("port", "fail", f"{exc.message} (port from {source})", exc.hint, details)]
    return [Check("port", "ok", f"port {ctx.port} on {host} is free (from {source})", "", details)]


def check_settings(ctx: DoctorContext) -> list[Check]:
    settings = ctx.settings
    details = {"values": settings.to_json()}
    if ctx.settings_error is not None:
        return [Check("settings", "fail", ctx.settings_error.message, ctx.settings_error.hint,
                      details)]
    changed = [f"{name}={value!r} ({source})" for name, value, source in settings.as_table()
               if source != "default"]
    summary = f"settings of {settings.project}: " + (
        ", ".join(changed) if changed else "all defaults")
    return [Check("settings", "ok", summary, "", details)]


# ---------------------------------------------------------------------------------------------
# Interpreter and venv (from launcher.venvs and launcher.deps)


def _venv_target(ctx: DoctorContext) -> tuple[Path, Path | None, str]:
    """(the venv this platform uses, another OS's venv left alone or None, why)."""
    from launcher.venvs import venv_for_platform

    return ctx.memo(  # type: ignore[no-any-return]
        "venv-target", lambda: venv_for_platform(ctx.settings.venv_path, ctx.facts)
    )


def _venv_health(ctx: DoctorContext) -> Any:
    from launcher.venvs import inspect_venv

    target, _, _ = _venv_target(ctx)
    return ctx.memo(
        "venv-health", lambda: inspect_venv(target, ctx.facts, timeout=INTERPRETER_TIMEOUT)
    )


def _venv_usable(ctx: DoctorContext) -> bool:
    """Will `up` reuse the venv as it is (so no interpreter is needed to create one)?

    The pre-flight (`quick`) answers from the files alone, without starting the venv's python:
    `up` starts it right after anyway.
    """
    if not ctx.quick:
        return bool(_venv_health(ctx).valid)
    from launcher.venvs import read_pyvenv_cfg, venv_python

    target, _, _ = _venv_target(ctx)
    cfg = read_pyvenv_cfg(target)
    home = (cfg or {}).get("home", "")
    return bool(cfg) and bool(home) and Path(home).is_dir() and venv_python(target).exists()


def check_python(ctx: DoctorContext) -> list[Check]:
    from launcher.venvs import find_python, is_store_alias

    requested = ctx.settings.python
    if ctx.quick and _venv_usable(ctx):
        # The pre-flight of a warm `up`: the venv is reused, no interpreter is started for it.
        return [Check("python", "ok", "the venv exists: no interpreter needed to create one",
                      "", {"requested": requested})]
    names = ("python", "python3") if ctx.windows else ("python3", "python")
    aliases = sorted({p for n in names for p in ctx.facts.which_all(n) if is_store_alias(p)})
    details: dict[str, Any] = {"requested": requested, "store_aliases_skipped": aliases}
    skipped = (
        f"; skipped the Microsoft Store alias {aliases[0]}" if aliases and not requested else ""
    )
    try:
        found = find_python(requested, ctx.facts, timeout=INTERPRETER_TIMEOUT)
    except LauncherError as exc:
        details["error"] = exc.message
        if _venv_usable(ctx):
            return [Check(
                "python",
                "warn",
                f"{exc.message}; the existing venv works, so nothing needs it now",
                f"Needed only when the venv is (re)created. {exc.hint}",
                details,
            )]
        return [Check("python", "fail", exc.message + skipped, exc.hint, details)]
    details.update(path=found.path, version=found.version, source=found.source)
    summary = f"Python {found.version} at {found.path} ({found.source}){skipped}"
    if not found.version.startswith("3.") or _version_tuple(found.version) < (3, 9):
        return [Check(
            "python",
            "warn",
            summary + ": too old for fastembed (needs 3.9 or newer)",
            "Install Python 3.10+ and pass it with --python (or python = \"…\" in "
            "[tool.robo-backend]).",
            details,
        )]
    return [Check("python", "ok", summary, "", details)]


def _version_tuple(version: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in version.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def check_venv(ctx: DoctorContext) -> list[Check]:
    target, foreign, why = _venv_target(ctx)
    health = _venv_health(ctx)
    details: dict[str, Any] = health.to_json()
    details["foreign"] = str(foreign) if foreign else None
    details["deps"] = None
    name = _display(target, ctx.settings.project)
    note = f" ({foreign.name} belongs to another OS and is left alone)" if foreign else ""
    if not health.valid:
        problem = health.problems[0]
        status: Status = "fail" if problem.code == "not-a-venv" else "warn"
        if problem.code == "missing":
            summary = f"no venv at {name} yet{note}"
            hint = why or f"Run `robo-backend up -p {ctx.settings.project}`: it creates the venv " \
                "(with uv, else python -m venv) and installs the dependencies."
        else:
            summary = problem.message
            hint = problem.hint
        return [Check("venv", status, summary, hint, details)]
    from launcher.deps import stamp_state

    python = health.python
    try:
        deps = stamp_state(ctx.settings.project, python, ctx.settings.state_dir)
    except LauncherError as exc:
        details["deps"] = "error"
        return [Check("venv", "fail", f"venv {name} is fine, but {exc.message}", exc.hint,
                      details)]
    details["deps"] = deps
    base = f"venv {name} (Python {health.version}){note}"
    if deps == "in-sync":
        return [Check("venv", "ok", f"{base}, dependencies in sync", "", details)]
    if deps == "changed":
        return [Check("venv", "warn", f"{base}: the dependencies changed since the last install",
                      "`up` installs them (or: robo-backend up --install always).", details)]
    return [Check("venv", "warn", f"{base}: dependencies not installed by robo-backend yet",
                  "`up` installs them on its next run.", details)]


def _display(path: Path, project: Path) -> str:
    try:
        return str(path.relative_to(project))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------------------------
# Running them


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
    CheckSpec("uv", check_uv),
    CheckSpec("powershell-policy", check_powershell_policy, windows_only=True),
    CheckSpec("long-paths", check_long_paths, windows_only=True),
    CheckSpec("cache-dir", check_cache_dir),
    CheckSpec("model", check_models),
    CheckSpec("legacy-cache", check_legacy_cache),
    CheckSpec("hub", check_hub),
    CheckSpec("port", check_port),
    CheckSpec("settings", check_settings),
)
CHECK_IDS = tuple(spec.id for spec in CHECKS)
# What `up` runs before touching anything: the findings that would make it fail later, and
# none of what it repairs itself (a missing venv or model, a partial cache) or that needs the
# network. The port is probed by `up` itself right after.
PREFLIGHT_IDS = ("settings", "python", "cache-dir")


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
    debug = _truthy(context.env.get("ROBO_BACKEND_DEBUG"))

    def run(spec: CheckSpec) -> list[Check]:
        try:
            return spec.run(context)
        except Exception as exc:
            if debug:
                raise
            return [_crashed(spec.id, exc)]

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
    **probes: Any,
) -> list[Check]:
    """`up`'s pre-flight: raise PreflightError (exit 1) with the first failing check's finding
    and fix; return the checks (warnings included) when nothing fails. No network, no venv
    creation, nothing `up` repairs by itself."""
    context = DoctorContext(
        settings=settings,
        facts=facts,
        env=dict(os.environ if env is None else env),
        cache=cache,
        port=port,
        quick=True,
        **probes,
    )
    checks = run_checks(context, only=PREFLIGHT_IDS)
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
