"""Settings: defaults < the backend's code < `[tool.robo-backend]` < `ROBO_BACKEND_*` env < flags.

`Settings` is frozen and typed; every value keeps its origin (`Source` and the text people read,
"ROBO_BACKEND_PORT", "code: main.py:12"). The code layer is merged here, never written from
outside. Nothing reads the environment at import time: `resolve_settings` takes it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from enum import Enum
from pathlib import Path
from typing import Any, Literal, TypedDict, get_args

from launcher.constraints import requires_python
from launcher.errors import ProjectError, SettingsError
from launcher.models.registry import DEFAULT_FALLBACK_MODEL, DEFAULT_MODEL, DEFAULT_MODEL_BUDGET
from launcher.values import (
    parse_bool,
    parse_byte_rate,
    parse_choice,
    parse_optional_text,
    parse_seconds,
    parse_text,
    parse_whole,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

ENV_PREFIX = "ROBO_BACKEND_"
STATE_DIR = ".robo-backend"
MAX_RETRIES = 100
InstallMode = Literal["auto", "always", "never"]
Activation = Literal["auto", "direct", "powershell", "cmd", "wsl", "posix"]


def _app(value: Any) -> str | None:
    text = parse_optional_text(value)
    if text is None:
        return None
    module, _, attr = text.partition(":")
    if not module or (":" in text and not attr.isidentifier()):
        raise ValueError("expected module:attribute, e.g. main:app")
    return text


def _health_path(value: Any) -> str:
    text = parse_text(value).strip()
    if not text.startswith("/"):
        raise ValueError("expected a path starting with /, e.g. /health")
    return text


class Source(Enum):
    """The layer a value came from, lowest first: a higher layer wins."""

    DEFAULT = "default"
    CODE = "code"  # what the backend's code hard-wires (discover/adopt.py)
    PYPROJECT = "pyproject"
    ENV = "env"
    FLAG = "flag"


@dataclass(frozen=True)
class Origin:
    """Where a value came from: its layer, and the text people read (`detail`)."""

    source: Source
    detail: str  # "default", "code: main.py:12", "pyproject.toml", "ROBO_BACKEND_PORT", "--port"


DEFAULT_ORIGIN = Origin(Source.DEFAULT, "default")


@dataclass(frozen=True)
class CodeValue:
    """A value the backend's code hard-wires, and where it was read (`src/config.py:8`)."""

    value: str
    where: str


class Flags(TypedDict, total=False):
    """Flag values as a command read them; None (or a missing key) means "not given"."""

    app: str | None
    host: str | None
    port: int | None
    reload: bool | None
    venv: str | None
    state_dir: str | None
    python: str | None
    model: str | None
    fallback_model: str | None
    cache_dir: str | None
    retries: int | None
    retry_delay: float | None
    stall_timeout: float | None
    min_download_rate: float | None
    model_budget: float | None
    ready_timeout: float | None
    health_path: str | None
    install: str | None
    install_timeout: float | None
    offline: bool | None
    prefetch: bool | None
    require_model: bool | None
    background_model: bool | None
    allow_model_switch: bool | None
    shell: str | None
    activation: str | None


@dataclass(frozen=True)
class Spec:
    """One setting: its default, how to parse a raw value, and its help text."""

    name: str
    default: Any
    parse: Callable[[Any], Any]
    help: str


def _setting(default: Any, parse: Callable[[Any], Any], help: str) -> Any:
    """A field of `Settings` that is a setting (its spec rides in the field's metadata)."""
    return field(default=default, metadata={"parse": parse, "help": help})


@dataclass(frozen=True)
class Settings:
    """The resolved settings of one backend project: one typed field per setting, with its
    built-in default, its parser and its help text (`SPECS` lists them), and the Python the
    project's pyproject.toml asks for (read in the same pass)."""

    project: Path
    app: str | None = _setting(None, _app, "ASGI app as module:attr (discovered when unset)")
    host: str = _setting("127.0.0.1", parse_text, "interface uvicorn binds")
    port: int = _setting(
        8000, parse_whole(0, 65535, "a port number"), "port uvicorn listens on (0 picks a free one)"
    )
    reload: bool = _setting(False, parse_bool, "run uvicorn with --reload")
    venv: str = _setting(".venv", parse_text, "venv folder, relative to the project")
    state_dir: str = _setting(
        STATE_DIR,
        parse_text,
        "launcher state folder (status file, run file, locks), relative to the project",
    )
    python: str | None = _setting(None, parse_optional_text, "interpreter used to create the venv")
    model: str = _setting(DEFAULT_MODEL, parse_text, "embedding model to prefetch")
    fallback_model: str | None = _setting(
        DEFAULT_FALLBACK_MODEL, parse_optional_text, "model used when the first fails"
    )
    cache_dir: str | None = _setting(
        None, parse_optional_text, "model cache folder (persistent default)"
    )
    retries: int = _setting(
        3, parse_whole(1, MAX_RETRIES, "a whole number"), "download attempts per model"
    )
    retry_delay: float = _setting(10.0, parse_seconds, "seconds between download attempts")
    stall_timeout: float = _setting(
        30.0, parse_seconds, "seconds without a byte before an attempt is ended"
    )
    min_download_rate: float = _setting(
        1024.0,
        parse_byte_rate,
        "bytes/s an attempt must average over a stall_timeout window, or it ends (0: no floor)",
    )
    model_budget: float = _setting(
        DEFAULT_MODEL_BUDGET,
        parse_seconds,
        "seconds the model step may go without progress before starting degraded (0: no limit)",
    )
    ready_timeout: float = _setting(60.0, parse_seconds, "seconds to wait for the health endpoint")
    health_path: str = _setting("/health", _health_path, "path polled until it answers 200")
    install: InstallMode = _setting(
        "auto", parse_choice(get_args(InstallMode)), "dependency install: auto, always or never"
    )
    install_timeout: float = _setting(
        600.0, parse_seconds, "seconds an install may take, then it stops (0: none)"
    )
    offline: bool = _setting(False, parse_bool, "never touch the network; use the cache only")
    prefetch: bool = _setting(True, parse_bool, "prefetch the model before starting the server")
    require_model: bool = _setting(
        False, parse_bool, "fail instead of running degraded without a model"
    )
    background_model: bool = _setting(
        True, parse_bool, "overlap model download, retry it while degraded"
    )
    allow_model_switch: bool = _setting(
        True,
        parse_bool,
        "let a run use another model than the last run (false: refuse, stored vectors differ)",
    )
    shell: str | None = _setting(None, parse_optional_text, "override shell detection")
    activation: Activation = _setting(
        "auto", parse_choice(get_args(Activation)), "force an activation strategy"
    )
    requires_python: str | None = None  # the project's, as PEP 440 (read with the settings)
    origins: Mapping[str, Origin] = field(default_factory=dict, repr=False)

    def origin(self, name: str) -> Origin:
        """Where setting `name` came from (KeyError for a name that is no setting)."""
        return self.origins.get(SPEC_BY_NAME[name].name, DEFAULT_ORIGIN)

    def source(self, name: str) -> Source:
        return self.origin(name).source

    @property
    def venv_path(self) -> Path:
        venv = Path(self.venv)
        return venv if venv.is_absolute() else self.project / venv

    @property
    def state_path(self) -> Path:
        """Per-project launcher state: status file, run file, dependency stamp, locks."""
        folder = Path(self.state_dir).expanduser()
        return folder if folder.is_absolute() else self.project / folder

    @property
    def status_file(self) -> Path:
        return self.state_path / "status.json"

    @property
    def cache_path(self) -> Path | None:
        """The `cache_dir` setting as a folder: a relative path from pyproject.toml (or the
        code) is taken relative to the project, like `venv`; one from a flag or the
        environment relative to the current folder."""
        if not self.cache_dir:
            return None
        path = Path(self.cache_dir).expanduser()
        if path.is_absolute():
            return path
        relative_to_project = self.source("cache_dir") in (Source.PYPROJECT, Source.CODE)
        return (self.project if relative_to_project else Path.cwd()) / path

    def with_code(self, code: Mapping[str, CodeValue]) -> Settings:
        """These settings with the code layer merged in: a hard-wired value replaces a built-in
        default only (defaults < code < pyproject < env < flags)."""
        changes: dict[str, Any] = {}
        origins = dict(self.origins)
        for name, found in code.items():
            spec = _spec(name, "code")
            if self.source(name) is not Source.DEFAULT:
                continue
            try:
                changes[name] = spec.parse(found.value)
            except (ValueError, TypeError):
                continue  # the code's value is not one the setting takes: the default stays
            origins[name] = Origin(Source.CODE, f"code: {found.where}")
        return replace(self, origins=origins, **changes)

    def as_table(self) -> list[tuple[str, Any, str]]:
        """(name, value, where it came from) of every setting, for people."""
        return [(s.name, getattr(self, s.name), self.origin(s.name).detail) for s in SPECS]

    def to_json(self) -> dict[str, dict[str, Any]]:
        return {name: {"value": value, "source": detail} for name, value, detail in self.as_table()}


SPECS: tuple[Spec, ...] = tuple(
    Spec(f.name, f.default, f.metadata["parse"], f.metadata["help"])
    for f in fields(Settings)
    if "parse" in f.metadata
)
SPEC_BY_NAME = {spec.name: spec for spec in SPECS}


def _spec(name: str, layer: str) -> Spec:
    """The spec of `name`; a name that is no setting is a bug of the caller (a lost typo)."""
    spec = SPEC_BY_NAME.get(name)
    if spec is None:
        raise TypeError(f"unknown setting {name!r} in the {layer} layer")
    return spec


def read_pyproject(project: Path) -> dict[str, Any]:
    """The project's pyproject.toml as a dict ({} when absent); invalid TOML is a ProjectError."""
    pyproject = project / "pyproject.toml"
    if pyproject.is_dir():  # not silently "no settings, no dependencies"
        raise ProjectError(
            f"{pyproject} is a folder, not a file",
            "Move or rename that folder: the project's settings and dependencies are read from "
            "a pyproject.toml file.",
        )
    if not pyproject.is_file():
        return {}
    try:
        # utf-8-sig: a byte-order mark (Windows editors add one) is accepted, not a TOML error
        return tomllib.loads(pyproject.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProjectError(
            f"{pyproject} is not valid TOML: {exc}",
            "Fix the syntax error on the line named above (a TOML linter such as taplo helps).",
        ) from None


def _section(data: Mapping[str, Any], pyproject: Path) -> dict[str, Any]:
    """`[tool.robo-backend]` of the parsed pyproject.toml (empty when absent)."""
    section = data.get("tool", {}).get("robo-backend", {})
    if not isinstance(section, dict):
        raise ProjectError(
            f"[tool.robo-backend] in {pyproject} is not a table",
            "Write it as a [tool.robo-backend] section with key = value lines.",
        )
    return {key.replace("-", "_"): value for key, value in section.items()}


def check_project(project: Path) -> Path:
    """The project folder, resolved; a clear error when it does not exist."""
    resolved = project.expanduser().resolve()
    if not resolved.exists():
        raise ProjectError(
            f"project folder {project} does not exist",
            "Pass the backend's folder with --project PATH (or run from inside it).",
        )
    if not resolved.is_dir():
        raise ProjectError(
            f"project path {project} is not a folder",
            "Pass the folder that holds the backend's pyproject.toml or main.py.",
        )
    return resolved


def env_name(name: str) -> str:
    """The environment variable of setting (or launcher option) `name`: ROBO_BACKEND_<NAME>."""
    return ENV_PREFIX + name.upper()


def resolve_settings(
    project: Path,
    flags: Flags | None = None,
    env: Mapping[str, str] | None = None,
    code: Mapping[str, CodeValue] | None = None,
) -> Settings:
    """Resolve every setting for `project`: defaults < `code` < pyproject < `env` < `flags`.

    A flag whose value is None is "not given". A key of `flags` or `code` that names no
    setting is a TypeError: a bug in the caller, never a value silently dropped."""
    root = check_project(project)
    environ = os.environ if env is None else env
    pyproject, data = root / "pyproject.toml", read_pyproject(root)
    config = _section(data, pyproject)
    unknown = sorted(set(config) - set(SPEC_BY_NAME))
    if unknown:
        raise SettingsError(
            f"unknown key {unknown[0]!r} in [tool.robo-backend] of {pyproject}",
            "Known keys: " + ", ".join(spec.name for spec in SPECS) + ".",
        )
    given = {_spec(k, "flags").name: v for k, v in (flags or {}).items()}
    values: dict[str, Any] = {}
    origins: dict[str, Origin] = {}
    for spec in SPECS:
        env_key = env_name(spec.name)
        if given.get(spec.name) is not None:
            raw, origin = given[spec.name], Origin(Source.FLAG, "--" + spec.name.replace("_", "-"))
        elif env_key in environ:
            raw, origin = environ[env_key], Origin(Source.ENV, env_key)
        elif spec.name in config:
            raw, origin = config[spec.name], Origin(Source.PYPROJECT, "pyproject.toml")
        else:
            continue
        values[spec.name] = _parse(spec, raw, origin)
        origins[spec.name] = origin
    requires = requires_python(data, pyproject)
    return Settings(root, requires_python=requires, origins=origins, **values).with_code(code or {})


def _parse(spec: Spec, raw: Any, origin: Origin) -> Any:
    try:
        return spec.parse(raw)
    except (ValueError, TypeError) as exc:
        label = origin.detail
        if origin.source is Source.PYPROJECT:
            label = f"{spec.name} in [tool.robo-backend]"
        raise SettingsError(
            f"{label} = {raw!r} is not valid: {exc}",
            f"Set {spec.name} to a valid value ({spec.help}).",
        ) from None
