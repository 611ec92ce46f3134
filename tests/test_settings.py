"""Settings precedence and validation: defaults < code < pyproject < env < flags, each with its
source (the layer, and the text people read)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from launcher.errors import ProjectError, SettingsError
from launcher.settings import (
    DEFAULT_MODEL,
    SPECS,
    CodeValue,
    Flags,
    Settings,
    Source,
    resolve_settings,
)


def write_pyproject(project: Path, body: str) -> None:
    project.mkdir(parents=True, exist_ok=True)
    (project / "pyproject.toml").write_text(body, encoding="utf-8")


def test_defaults_when_nothing_is_configured(tmp_path: Path) -> None:
    settings = resolve_settings(tmp_path, {}, {})
    assert settings.port == 8000
    assert settings.host == "127.0.0.1"
    assert settings.model == DEFAULT_MODEL
    assert settings.retries == 3
    assert settings.retry_delay == 10.0
    assert all(settings.source(spec.name) is Source.DEFAULT for spec in SPECS)
    assert all(settings.origin(spec.name).detail == "default" for spec in SPECS)
    assert settings.venv_path == tmp_path.resolve() / ".venv"
    assert settings.status_file == tmp_path.resolve() / ".robo-backend" / "status.json"


def test_each_layer_overrides_the_one_below_and_says_so(tmp_path: Path) -> None:
    write_pyproject(tmp_path, '[tool.robo-backend]\nport = 9001\nretries = 5\nhost = "0.0.0.0"\n')
    env = {"ROBO_BACKEND_PORT": "9002", "ROBO_BACKEND_RETRIES": "7"}
    settings = resolve_settings(tmp_path, {"port": 9003, "reload": None}, env)
    assert (settings.port, settings.source("port")) == (9003, Source.FLAG)
    assert (settings.retries, settings.source("retries")) == (7, Source.ENV)
    assert (settings.host, settings.source("host")) == ("0.0.0.0", Source.PYPROJECT)
    assert (settings.reload, settings.source("reload")) == (False, Source.DEFAULT)
    shown = {name: detail for name, _value, detail in settings.as_table()}
    assert shown["port"] == "--port"
    assert shown["retries"] == "ROBO_BACKEND_RETRIES"
    assert shown["host"] == "pyproject.toml"
    assert shown["reload"] == "default"


def test_the_code_layer_sits_between_the_defaults_and_pyproject(tmp_path: Path) -> None:
    code = {
        "model": CodeValue("sentence-transformers/all-MiniLM-L6-v2", "config.py:3"),
        "cache_dir": CodeValue("models", "main.py:9"),
    }
    settings = resolve_settings(tmp_path, {}, {}, code=code)
    assert settings.model == "sentence-transformers/all-MiniLM-L6-v2"
    assert settings.origin("model").detail == "code: config.py:3"
    assert settings.source("model") is Source.CODE
    assert settings.cache_path == tmp_path.resolve() / "models"  # relative to the project

    write_pyproject(tmp_path, '[tool.robo-backend]\nmodel = "BAAI/bge-small-en-v1.5"\n')
    explicit = resolve_settings(tmp_path, {}, {"ROBO_BACKEND_CACHE_DIR": "/srv/m"}, code=code)
    assert (explicit.model, explicit.source("model")) == (
        "BAAI/bge-small-en-v1.5",
        Source.PYPROJECT,
    )
    assert (explicit.cache_dir, explicit.source("cache_dir")) == ("/srv/m", Source.ENV)


def test_a_flag_or_code_key_that_names_no_setting_is_a_bug_not_a_lost_value(
    tmp_path: Path,
) -> None:
    typo: Flags = {"prot": 9000}  # type: ignore[typeddict-unknown-key]
    with pytest.raises(TypeError, match="'prot'"):
        resolve_settings(tmp_path, typo, {})
    unset: Flags = {"prot": None}  # type: ignore[typeddict-unknown-key]
    with pytest.raises(TypeError, match="'prot'"):
        resolve_settings(tmp_path, unset, {})
    with pytest.raises(TypeError, match="'modle'"):
        resolve_settings(tmp_path, {}, {}, code={"modle": CodeValue("x/y", "main.py:1")})


def test_flags_name_exactly_the_settings() -> None:
    assert set(Flags.__annotations__) == {spec.name for spec in SPECS}


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = resolve_settings(tmp_path, {}, {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.port = 1  # type: ignore[misc]
    assert Settings(project=tmp_path).port == 8000


def test_dashed_keys_in_pyproject_are_accepted(tmp_path: Path) -> None:
    write_pyproject(tmp_path, '[tool.robo-backend]\nretry-delay = 0.5\nfallback-model = ""\n')
    settings = resolve_settings(tmp_path, {}, {})
    assert settings.retry_delay == 0.5
    assert settings.fallback_model is None


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"ROBO_BACKEND_PORT": "abc"}, "ROBO_BACKEND_PORT = 'abc'"),
        ({"ROBO_BACKEND_PORT": "70000"}, "65535"),
        ({"ROBO_BACKEND_RETRIES": "0"}, "from 1 to 100"),
        ({"ROBO_BACKEND_RELOAD": "maybe"}, "true or false"),
        ({"ROBO_BACKEND_INSTALL": "sometimes"}, "auto, always, never"),
        ({"ROBO_BACKEND_HEALTH_PATH": "health"}, "starting with /"),
        ({"ROBO_BACKEND_APP": "main:"}, "module:attribute"),
    ],
)
def test_bad_values_name_their_source_and_exit_2(
    tmp_path: Path, env: dict[str, str], fragment: str
) -> None:
    with pytest.raises(SettingsError) as info:
        resolve_settings(tmp_path, {}, env)
    assert fragment in info.value.message
    assert info.value.hint
    assert info.value.exit_code == 2


def test_malformed_pyproject_is_a_usage_error(tmp_path: Path) -> None:
    write_pyproject(tmp_path, "[tool.robo-backend\nport = 1\n")
    with pytest.raises(ProjectError) as info:
        resolve_settings(tmp_path, {}, {})
    assert "not valid TOML" in info.value.message
    assert info.value.exit_code == 2


def test_requires_python_is_read_with_the_settings_and_a_bad_one_is_named(
    tmp_path: Path,
) -> None:
    write_pyproject(tmp_path, '[project]\nrequires-python = ">=3.11"\n')
    assert resolve_settings(tmp_path, {}, {}).requires_python == ">=3.11"
    write_pyproject(tmp_path, '[tool.poetry.dependencies]\npython = "~3.10"\n')
    assert resolve_settings(tmp_path, {}, {}).requires_python == ">=3.10,<3.11"
    write_pyproject(tmp_path, '[project]\nrequires-python = "three"\n')
    with pytest.raises(ProjectError) as info:
        resolve_settings(tmp_path, {}, {})
    assert info.value.message.startswith("requires-python = 'three' in ")
    assert "not a version specifier" in info.value.message and info.value.exit_code == 2


def test_unknown_key_is_reported_with_the_known_ones(tmp_path: Path) -> None:
    write_pyproject(tmp_path, "[tool.robo-backend]\nprot = 1\n")
    with pytest.raises(SettingsError) as info:
        resolve_settings(tmp_path, {}, {})
    assert "'prot'" in info.value.message
    assert "port" in info.value.hint


def test_missing_project_folder(tmp_path: Path) -> None:
    with pytest.raises(ProjectError) as info:
        resolve_settings(tmp_path / "nope", {}, {})
    assert "does not exist" in info.value.message
    assert "--project" in info.value.hint


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ('retry_delay = "inf"', "retry_delay"),
        ("stall_timeout = 1e400", "stall_timeout"),  # TOML reads it as infinity
        ('ready_timeout = "nan"', "ready_timeout"),
        ("ready_timeout = 1e12", "ready_timeout"),  # finite but absurd: 31,000 years
        ("retries = 1000000000000", "retries"),
    ],
)
def test_non_finite_or_absurd_numbers_are_rejected_at_settings_time(
    tmp_path: Path, body: str, name: str
) -> None:
    write_pyproject(tmp_path, f"[tool.robo-backend]\n{body}\n")
    with pytest.raises(SettingsError) as caught:
        resolve_settings(tmp_path, {}, {})
    assert caught.value.exit_code == 2
    assert name in caught.value.message


def test_an_infinite_value_from_the_environment_is_a_usage_error_too(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        resolve_settings(tmp_path, {}, {"ROBO_BACKEND_RETRY_DELAY": "inf"})
    assert "ROBO_BACKEND_RETRY_DELAY = 'inf'" in caught.value.message


def test_a_byte_order_mark_in_pyproject_is_accepted(tmp_path: Path) -> None:
    # Windows editors (Notepad before 2019, some PowerShell redirections) write one
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "pyproject.toml").write_bytes("\ufeff[tool.robo-backend]\nport = 9005\n".encode())
    settings = resolve_settings(tmp_path, {}, {})
    assert (settings.port, settings.source("port")) == (9005, Source.PYPROJECT)


def test_the_state_folder_can_be_moved(tmp_path: Path) -> None:
    settings = resolve_settings(tmp_path, {}, {"ROBO_BACKEND_STATE_DIR": "var/state"})
    assert settings.state_path == tmp_path.resolve() / "var" / "state"
    assert settings.status_file == tmp_path.resolve() / "var" / "state" / "status.json"
