"""Settings precedence and validation: defaults < pyproject < env < flags, each with its source."""

from __future__ import annotations

from pathlib import Path

import pytest

from launcher.errors import ProjectError, SettingsError
from launcher.settings import DEFAULT_MODEL, SPECS, resolve_settings


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
    assert all(settings.source(spec.name) == "default" for spec in SPECS)
    assert settings.venv_path == tmp_path.resolve() / ".venv"
    assert settings.status_file == tmp_path.resolve() / ".robo-backend" / "status.json"


def test_each_layer_overrides_the_one_below_and_says_so(tmp_path: Path) -> None:
    write_pyproject(tmp_path, '[tool.robo-backend]\nport = 9001\nretries = 5\nhost = "0.0.0.0"\n')
    env = {"ROBO_BACKEND_PORT": "9002", "ROBO_BACKEND_RETRIES": "7"}
    settings = resolve_settings(tmp_path, {"port": 9003, "reload": None}, env)
    assert (settings.port, settings.source("port")) == (9003, "--port")
    assert (settings.retries, settings.source("retries")) == (7, "ROBO_BACKEND_RETRIES")
    assert (settings.host, settings.source("host")) == ("0.0.0.0", "pyproject.toml")
    assert (settings.reload, settings.source("reload")) == (False, "default")


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
        ({"ROBO_BACKEND_RETRIES": "0"}, "at least 1"),
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
