"""App discovery: configured module:attr wins (checked), else fastapi-cli's candidates."""

from __future__ import annotations

from pathlib import Path

import pytest

from launcher.discover import AppTarget, discover_app
from launcher.errors import ProjectError, SettingsError

FASTAPI_APP = "from fastapi import FastAPI\n\napp = FastAPI()\n"


def write(project: Path, relative: str, text: str) -> None:
    path = project / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_main_py_with_app(tmp_path: Path) -> None:
    write(tmp_path, "main.py", FASTAPI_APP)
    target = discover_app(tmp_path, None)
    assert target == AppTarget("main", "app", None)
    assert target.spec == "main:app"
    assert target.uvicorn_args() == ["main:app"]


def test_candidates_in_fastapi_cli_order(tmp_path: Path) -> None:
    write(tmp_path, "api.py", "api = object()\n")
    write(tmp_path, "app.py", "import os\n")  # no app here: keep looking
    assert discover_app(tmp_path, None).spec == "api:api"
    write(tmp_path, "main.py", "def build():\n    app = 1\n")  # not module level
    assert discover_app(tmp_path, None).spec == "api:api"
    write(tmp_path, "main.py", "if True:\n    app: object = object()\n")
    assert discover_app(tmp_path, None).spec == "main:app"


def test_app_preferred_over_api(tmp_path: Path) -> None:
    write(tmp_path, "main.py", "api = 1\napp = 2\n")
    assert discover_app(tmp_path, None).attr == "app"


def test_src_layout_gets_an_app_dir(tmp_path: Path) -> None:
    write(tmp_path, "src/main.py", FASTAPI_APP)
    target = discover_app(tmp_path, None)
    assert target.spec == "main:app"
    assert target.app_dir == tmp_path / "src"
    assert target.uvicorn_args() == ["main:app", "--app-dir", str(tmp_path / "src")]


def test_src_package_imports_from_the_project(tmp_path: Path) -> None:
    write(tmp_path, "src/__init__.py", "")
    write(tmp_path, "src/main.py", FASTAPI_APP)
    assert discover_app(tmp_path, None) == AppTarget("src.main", "app", None)


def test_app_folder(tmp_path: Path) -> None:
    write(tmp_path, "app/main.py", "from .factory import create\napp = create()\n")
    assert discover_app(tmp_path, None) == AppTarget("app.main", "app", None)


def test_configured_value_wins_and_is_checked(tmp_path: Path) -> None:
    write(tmp_path, "main.py", FASTAPI_APP)
    write(tmp_path, "service/web.py", "from fastapi import FastAPI\napplication = FastAPI()\n")
    assert discover_app(tmp_path, "service.web:application").spec == "service.web:application"
    # attribute left out: found like discovery does
    write(tmp_path, "server.py", "api = 1\n")
    assert discover_app(tmp_path, "server").spec == "server:api"
    # a name bound by an import counts
    write(tmp_path, "reexport.py", "from service.web import application as app\n")
    assert discover_app(tmp_path, "reexport:app").spec == "reexport:app"


def test_configured_module_under_src(tmp_path: Path) -> None:
    write(tmp_path, "src/backend/__init__.py", "")
    write(tmp_path, "src/backend/api.py", FASTAPI_APP)
    target = discover_app(tmp_path, "backend.api:app")
    assert target.app_dir == tmp_path / "src"


def test_configured_missing_module_is_a_usage_error(tmp_path: Path) -> None:
    write(tmp_path, "main.py", FASTAPI_APP)
    with pytest.raises(SettingsError) as caught:
        discover_app(tmp_path, "mian:app")
    assert caught.value.exit_code == 2
    assert "no module 'mian'" in caught.value.message
    assert 'app = "main:app"' in caught.value.hint
    assert "--app" in caught.value.hint


def test_configured_missing_attribute_is_a_usage_error(tmp_path: Path) -> None:
    write(tmp_path, "main.py", FASTAPI_APP)
    with pytest.raises(SettingsError) as caught:
        discover_app(tmp_path, "main:application")
    assert "main.py defines no module-level 'application'" in caught.value.message
    assert "main:app" in caught.value.hint


def test_star_import_is_trusted(tmp_path: Path) -> None:
    """`from x import *` may bind anything: trust the configuration, let uvicorn decide."""
    write(tmp_path, "main.py", "from somewhere import *\n")
    assert discover_app(tmp_path, "main:whatever").spec == "main:whatever"


def test_nothing_to_discover(tmp_path: Path) -> None:
    with pytest.raises(ProjectError) as caught:
        discover_app(tmp_path, None)
    assert caught.value.exit_code == 2
    assert "could not find the FastAPI app" in caught.value.message
    assert "main.py" in caught.value.message
    assert "[tool.robo-backend]" in caught.value.hint
    # nothing found: the hint names the form, not a made-up app
    assert 'app = "module:attribute"' in caught.value.hint
    assert "main:app" not in caught.value.hint


def test_candidate_without_app_names_the_files_looked_at(tmp_path: Path) -> None:
    write(tmp_path, "main.py", "print('hello')\n")
    write(tmp_path, "app.py", "this is not python(\n")
    with pytest.raises(ProjectError) as caught:
        discover_app(tmp_path, None)
    message = caught.value.message
    assert (
        "looked at main.py (no module-level app, api or FastAPI()), app.py (cannot parse" in message
    )
    assert "never closed" in message


def test_example_backend_is_discovered() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "textbook-backend"
    assert discover_app(example, None).spec == "main:app"
    assert discover_app(example, "main:app").spec == "main:app"


def test_any_fastapi_instance_after_app_and_api(tmp_path: Path) -> None:
    write(tmp_path, "main.py", "import fastapi\n\nservice = fastapi.FastAPI(title='x')\n")
    assert discover_app(tmp_path, None).spec == "main:service"
    write(tmp_path, "main.py", "from fastapi import FastAPI\nservice = FastAPI()\napi = service\n")
    assert discover_app(tmp_path, None).spec == "main:api"


def test_the_one_module_creating_fastapi_is_served(tmp_path: Path) -> None:
    write(tmp_path, "service/web.py", "from fastapi import FastAPI\napplication = FastAPI()\n")
    write(tmp_path, ".venv/lib/other.py", "from fastapi import FastAPI\nhidden = FastAPI()\n")
    target = discover_app(tmp_path, None)
    assert target.spec == "service.web:application"
    assert target.described == (
        "service.web:application (from service/web.py, the one module creating FastAPI())"
    )


def test_failure_names_the_candidates_it_found(tmp_path: Path) -> None:
    write(tmp_path, "service/web.py", "from fastapi import FastAPI\napplication = FastAPI()\n")
    write(tmp_path, "admin/site.py", "from fastapi import FastAPI\napi = FastAPI()\n")
    write(tmp_path, ".venv/lib/other.py", "from fastapi import FastAPI\nhidden = FastAPI()\n")
    with pytest.raises(ProjectError) as caught:
        discover_app(tmp_path, None)
    assert "none of main.py, app.py" in caught.value.message
    hint = caught.value.hint
    assert "Candidates: admin.site:api, service.web:application. Set one of them" in hint
    assert 'app = "admin.site:api"' in hint and "main:app" not in hint
    assert "hidden" not in hint
