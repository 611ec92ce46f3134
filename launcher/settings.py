"""Settings: built-in defaults < `[tool.robo-backend]` < `ROBO_BACKEND_*` env < flags.

Every resolved value remembers where it came from, so `doctor` and `--verbose` can say
"port = 9000 (from ROBO_BACKEND_PORT)". Nothing here reads the environment at import time:
`resolve_settings` takes the environment as a parameter.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from launcher.errors import ProjectError, SettingsError
from launcher.models.registry import DEFAULT_FALLBACK_MODEL, DEFAULT_MODEL, DEFAULT_MODEL_BUDGET
from launcher.values import parse_bool

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

ENV_PREFIX = "ROBO_BACKEND_"
STATE_DIR = ".robo-backend"
MAX_SECONDS = 86_400.0  # a day: any wait longer than that is a typo, not a setting
MAX_RETRIES = 100
INSTALL_MODES = ("auto", "always", "never")
ACTIVATIONS = ("auto", "direct", "powershell", "cmd", "wsl", "posix")


def _port(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a port number")
    port = int(str(value).strip())
    if not 0 <= port <= 65535:
        raise ValueError("a port is a number from 0 to 65535")
    return port


def _positive_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a whole number")
    number = int(str(value).strip())
    if not 1 <= number <= MAX_RETRIES:
        raise ValueError(f"expected a whole number from 1 to {MAX_RETRIES}")
    return number


def _seconds(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number of seconds")
    number = float(str(value).strip())
    if not math.isfinite(number) or number < 0:
        raise ValueError("expected a number of seconds, 0 or more")
    if number > MAX_SECONDS:
        raise ValueError(f"at most {MAX_SECONDS:.0f} seconds (a day)")
    return number


def _text(value: Any) -> str:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError("expected a string")
    return str(value)


def _optional_text(value: Any) -> str | None:
    text = _text(value).strip() if value is not None else ""
    return text or None


def _choice(options: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = _text(value).strip().lower()
        if text not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return text

    return parse


def _app(value: Any) -> str | None:
    text = _optional_text(value)
    if text is None:
        return None
    module, _, attr = text.partition(":")
    if not module or (":" in text and not attr.isidentifier()):
        raise ValueError("expected module:attribute, e.g. main:app")
    return text


def _health_path(value: Any) -> str:
    text = _text(value).strip()
    if not text.startswith("/"):
        raise ValueError("expected a path starting with /, e.g. /health")
    return text


@dataclass(frozen=True)
class Spec:
    """One setting: its default, how to parse a raw value, and its help text."""

    name: str
    default: Any
    parse: Callable[[Any], Any]
    help: str


SPECS: tuple[Spec, ...] = (
    Spec("app", None, _app, "ASGI app as module:attr (discovered when unset)"),
    Spec("host", "127.0.0.1", _text, "interface uvicorn binds"),
    Spec("port", 8000, _port, "port uvicorn listens on (0 picks a free one)"),
    Spec("reload", False, parse_bool, "run uvicorn with --reload"),
    Spec("venv", ".venv", _text, "venv folder, relative to the project"),
    Spec(
        "state_dir",
        STATE_DIR,
        _text,
        "launcher state folder (status file, run file, locks), relative to the project",
    ),
    Spec("python", None, _optional_text, "interpreter used to create the venv"),
    Spec("model", DEFAULT_MODEL, _text, "embedding model to prefetch"),
    Spec(
        "fallback_model", DEFAULT_FALLBACK_MODEL, _optional_text, "model used when the first fails"
    ),
    Spec("cache_dir", None, _optional_text, "model cache folder (persistent default)"),
    Spec("retries", 3, _positive_int, "download attempts per model"),
    Spec("retry_delay", 10.0, _seconds, "seconds between download attempts"),
    Spec("stall_timeout", 30.0, _seconds, "seconds without a byte before an attempt is ended"),
    Spec(
        "model_budget",
        DEFAULT_MODEL_BUDGET,
        _seconds,
        "seconds the model step may go without a byte before starting degraded (0: no limit)",
    ),
    Spec("ready_timeout", 60.0, _seconds, "seconds to wait for the health endpoint"),
    Spec("health_path", "/health", _health_path, "path polled until it answers 200"),
    Spec("install", "auto", _choice(INSTALL_MODES), "dependency install: auto, always or never"),
    Spec("offline", False, parse_bool, "never touch the network; use the cache only"),
    Spec("prefetch", True, parse_bool, "prefetch the model before starting the server"),
    Spec("require_model", False, parse_bool, "fail instead of running degraded without a model"),
    Spec("background_model", True, parse_bool, "overlap model download, retry it while degraded"),
    Spec(
        "allow_model_switch",
        True,
        parse_bool,
        "let a run use another model than the last run (false: refuse, stored vectors differ)",
    ),
    Spec("shell", None, _optional_text, "override shell detection"),
    Spec("activation", "auto", _choice(ACTIVATIONS), "force an activation strategy"),
)
SPEC_BY_NAME = {spec.name: spec for spec in SPECS}


@dataclass(frozen=True)
class Value:
    value: Any
    source: str  # "default", "pyproject.toml", "ROBO_BACKEND_PORT", "--port"


@dataclass
class Settings:
    """The resolved settings of one backend project."""

    project: Path
    values: dict[str, Value] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name].value
        raise AttributeError(name)

    def source(self, name: str) -> str:
        return self.values[name].source

    @property
    def venv_path(self) -> Path:
        venv = Path(self.values["venv"].value)
        return venv if venv.is_absolute() else self.project / venv

    @property
    def state_dir(self) -> Path:
        """Per-project launcher state: status file, run file, dependency stamp, locks."""
        value = self.values.get("state_dir")
        folder = Path(value.value if value is not None else STATE_DIR).expanduser()
        return folder if folder.is_absolute() else self.project / folder

    @property
    def status_file(self) -> Path:
        return self.state_dir / "status.json"

    def as_table(self) -> list[tuple[str, Any, str]]:
        return [(name, v.value, v.source) for name, v in self.values.items()]

    def to_json(self) -> dict[str, dict[str, Any]]:
        return {name: {"value": v.value, "source": v.source} for name, v in self.values.items()}


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def read_pyproject(project: Path) -> dict[str, Any]:
    """The project's pyproject.toml as a dict ({} when absent); invalid TOML is a ProjectError."""
    pyproject = project / "pyproject.toml"
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


def load_project_config(project: Path) -> dict[str, Any]:
    """Read `[tool.robo-backend]` from the project's pyproject.toml (empty when absent)."""
    pyproject = project / "pyproject.toml"
    data = read_pyproject(project)
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


def resolve_settings(
    project: Path,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve every setting for `project`; flags whose value is None are 'not given'."""
    root = check_project(project)
    environ = os.environ if env is None else env
    config = load_project_config(root)
    unknown = sorted(set(config) - set(SPEC_BY_NAME))
    if unknown:
        raise SettingsError(
            f"unknown key {unknown[0]!r} in [tool.robo-backend] of {root / 'pyproject.toml'}",
            "Known keys: " + ", ".join(spec.name for spec in SPECS) + ".",
        )
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    settings = Settings(project=root)
    for spec in SPECS:
        layers: list[tuple[Any, str, str]] = [(spec.default, "default", "")]
        if spec.name in config:
            layers.append(
                (config[spec.name], "pyproject.toml", f"{spec.name} in [tool.robo-backend]")
            )
        env_key = env_name(spec.name)
        if env_key in environ:
            layers.append((environ[env_key], env_key, env_key))
        if spec.name in given:
            layers.append((given[spec.name], flag_name(spec.name), flag_name(spec.name)))
        raw, source, label = layers[-1]
        if source == "default":
            settings.values[spec.name] = Value(raw, source)
            continue
        try:
            parsed = spec.parse(raw)
        except (ValueError, TypeError) as exc:
            raise SettingsError(
                f"{label} = {raw!r} is not valid: {exc}",
                f"Set {spec.name} to a valid value ({spec.help}).",
            ) from None
        settings.values[spec.name] = Value(parsed, source)
    return settings
