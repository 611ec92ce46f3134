"""The app as the project states it: [tool.fastapi], Dockerfile, Procfile, compose, in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from launcher.discover import AppTarget, discover_app
from launcher.errors import ProjectError, SettingsError
from tests.helpers.files import warnings_while as warnings_of
from tests.helpers.files import write

APP = "from fastapi import FastAPI\n\napp = FastAPI()\n"
PACKAGE = {"pkg/__init__.py": "", "pkg/service.py": APP}


@pytest.mark.parametrize(
    "dockerfile",
    [
        "FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\nCMD uvicorn pkg.service:app --port 80\n",
        'FROM python:3.11\nCMD ["uvicorn", "pkg.service:app", "--host", "0.0.0.0"]\n',
        'FROM python:3.11\nCMD ["python", "-m", "uvicorn", "pkg.service:app"]\n',
        "FROM python:3.11\nCMD gunicorn -k uvicorn.workers.UvicornWorker \\\n"
        "    -w 2 -b 0.0.0.0:8000 pkg.service:app\n",
        'FROM python:3.11\nENTRYPOINT ["uvicorn"]\nCMD ["pkg.service:app", "--port", "80"]\n',
        'FROM python:3.11\nCMD ["sh", "-c", "alembic upgrade head && uvicorn pkg.service:app"]\n',
        "FROM python:3.11\nCMD fastapi run pkg/service.py --port 80\n",
        "FROM python:3.11\n# CMD uvicorn main:app\nCMD exec uv run uvicorn pkg.service:app\n",
    ],
)
def test_a_package_module_app_stated_in_a_dockerfile(tmp_path: Path, dockerfile: str) -> None:
    """The issue's shape: the app in pkg/service.py, said only in the Dockerfile; a main.py
    with no app beside it must not hide it."""
    project = write(tmp_path, {**PACKAGE, "main.py": "print('cli')\n", "Dockerfile": dockerfile})
    target = discover_app(project, None)
    assert target == AppTarget("pkg.service", "app", None)
    assert target.origin.startswith("Dockerfile ")
    assert target.uvicorn_args() == ["pkg.service:app"]


def test_the_origin_is_shown_as_the_dockerfile_instruction(tmp_path: Path) -> None:
    project = write(tmp_path, {**PACKAGE, "Dockerfile": "FROM x\nCMD uvicorn pkg.service:app\n"})
    assert discover_app(project, None).described == "pkg.service:app (from Dockerfile CMD)"


def test_fastapi_entrypoint_comes_before_the_dockerfile(tmp_path: Path) -> None:
    project = write(
        tmp_path,
        {
            **PACKAGE,
            "web/api.py": "from fastapi import FastAPI\nserver = FastAPI()\n",
            "pyproject.toml": '[project]\nname = "p"\n\n[tool.fastapi]\nentrypoint = '
            '"web.api:server"\n',
            "Dockerfile": "FROM x\nCMD uvicorn pkg.service:app\n",
        },
    )
    target = discover_app(project, None)
    assert target.described == "web.api:server (from pyproject.toml [tool.fastapi] entrypoint)"


def test_an_explicit_setting_comes_first(tmp_path: Path) -> None:
    project = write(
        tmp_path,
        {**PACKAGE, "main.py": APP, "Dockerfile": "FROM x\nCMD uvicorn pkg.service:app\n"},
    )
    target = discover_app(project, "main:app", source="--app")
    assert target.described == "main:app (from --app)"


def test_procfile_then_compose_then_the_default_files(tmp_path: Path) -> None:
    project = write(
        tmp_path,
        {
            **PACKAGE,
            "other/site.py": APP,
            "main.py": APP,
            "Procfile": "release: alembic upgrade head\n"
            "web: uvicorn pkg.service:app --port $PORT\n",
            "compose.yaml": "services:\n  api:\n    build: .\n"
            "    command: uvicorn other.site:app --host 0.0.0.0\n",
        },
    )
    assert discover_app(project, None).described == "pkg.service:app (from Procfile web)"
    (project / "Procfile").unlink()
    assert discover_app(project, None).described == (
        "other.site:app (from compose.yaml command (service api))"
    )
    (project / "compose.yaml").unlink()
    assert discover_app(project, None).described == (
        "main:app (from main.py, fastapi-cli's default files)"
    )


@pytest.mark.parametrize(
    "service",
    [
        '    command: ["uvicorn", "pkg.service:app", "--host", "0.0.0.0"]\n',
        "    command: [uvicorn, 'pkg.service:app']\n",
        "    command:\n      - uvicorn\n      - pkg.service:app  # the app\n",
        '    command: >\n      sh -c "sleep 1 &&\n      uvicorn pkg.service:app --reload"\n',
        '    command: "gunicorn -k uvicorn_worker.UvicornWorker pkg.service:app"\n',
        '    entrypoint: ["python", "-m", "uvicorn"]\n    command: pkg.service:app\n',
    ],
)
def test_compose_command_forms(tmp_path: Path, service: str) -> None:
    compose = (
        "version: '3.8'\nservices:\n  qdrant:\n    image: qdrant/qdrant\n"
        "    command: ./qdrant --config-path /cfg.yaml\n"
        f'  backend:\n    build: .\n    ports:\n      - "8000:8000"\n{service}'
        "volumes:\n  data: {}\n"
    )
    project = write(tmp_path, {**PACKAGE, "docker-compose.yml": compose})
    target = discover_app(project, None)
    assert target.spec == "pkg.service:app"
    assert target.origin.startswith("docker-compose.yml ") and "(service backend)" in target.origin


def test_app_dir_and_cd_and_factory(tmp_path: Path) -> None:
    project = write(
        tmp_path,
        {
            "src/service/__init__.py": "",
            "src/service/web.py": "from fastapi import FastAPI\n\ndef build():\n"
            "    return FastAPI()\n",
            "Procfile": "web: uvicorn service.web:build --factory --app-dir src\n",
        },
    )
    target = discover_app(project, None)
    assert target == AppTarget("service.web", "build", project / "src", factory=True)
    assert target.uvicorn_args() == ["service.web:build", "--app-dir", str(project / "src"),
                                     "--factory"]  # fmt: skip
    (project / "Procfile").write_text("web: cd src && exec uvicorn service.web:build --factory\n")
    assert discover_app(project, None).app_dir == project / "src"


def test_dockerfile_copy_maps_a_subfolder_to_the_workdir(tmp_path: Path) -> None:
    """`COPY ./backend /app` + `WORKDIR /app` + `CMD uvicorn main:app`: backend/main.py."""
    project = write(
        tmp_path,
        {
            "backend/main.py": APP,
            "Dockerfile": "FROM python:3.11\nWORKDIR /app\nCOPY requirements.txt .\n"
            'COPY ./backend /app\nCMD ["uvicorn", "main:app"]\n',
        },
    )
    assert discover_app(project, None) == AppTarget("main", "app", project / "backend")


def test_dockerfile_in_fastapi_docs_layout(tmp_path: Path) -> None:
    """FastAPI's docs: `WORKDIR /code`, `COPY ./app /code/app`, `CMD ["fastapi", "run",
    "app/main.py", "--port", "80"]`."""
    project = write(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/main.py": APP,
            "Dockerfile": "FROM python:3.9\nWORKDIR /code\nCOPY ./requirements.txt "
            "/code/requirements.txt\nCOPY ./app /code/app\n"
            'CMD ["fastapi", "run", "app/main.py", "--port", "80"]\n',
        },
    )
    assert discover_app(project, None) == AppTarget("app.main", "app", None)


def test_a_start_script_the_dockerfile_runs(tmp_path: Path) -> None:
    project = write(
        tmp_path,
        {
            **PACKAGE,
            "scripts/start.sh": "#!/bin/sh\nset -e\n# migrate first\npython -m alembic upgrade "
            'head\nexec uvicorn pkg.service:app --host 0.0.0.0 --port "${PORT:-8000}"\n',
            "Dockerfile": "FROM python:3.11\nWORKDIR /srv\nCOPY . .\n"
            'CMD ["bash", "scripts/start.sh"]\n',
        },
    )
    target = discover_app(project, None)
    assert target.described == "pkg.service:app (from scripts/start.sh, run by Dockerfile CMD)"


def test_a_statement_naming_a_missing_module_is_reported_not_used(tmp_path: Path) -> None:
    project = write(
        tmp_path,
        {"main.py": APP, "Dockerfile": "FROM x\nCMD uvicorn pkg.gone:app --port 80\n"},
    )
    found: list[AppTarget] = []
    warned = warnings_of(lambda: found.append(discover_app(project, None)))
    target = found[0]
    assert target.spec == "main:app"
    note = "Dockerfile CMD names pkg.gone:app, but there is no module 'pkg.gone' in . "
    assert any(line.startswith(note) for line in warned), warned
    assert target.notes and target.notes[0].startswith(note)


def test_a_statement_naming_a_missing_attribute_is_reported(tmp_path: Path) -> None:
    project = write(tmp_path, {**PACKAGE, "Procfile": "web: uvicorn pkg.service:application\n"})
    found: list[AppTarget] = []
    warned = warnings_of(lambda: found.append(discover_app(project, None)))
    # the module's own FastAPI() is served, the Procfile's mistake is said
    assert found[0].described == (
        "pkg.service:app (from pkg/service.py, the one module creating FastAPI())"
    )
    assert warned == [
        "Procfile web names pkg.service:application, but pkg/service.py defines no "
        "module-level 'application': not used"
    ]


def test_a_failed_statement_is_in_the_error_when_nothing_else_is_found(tmp_path: Path) -> None:
    project = write(tmp_path, {"Dockerfile": "FROM x\nCMD uvicorn pkg.gone:app\n"})
    with pytest.raises(ProjectError) as caught:
        warnings_of(lambda: discover_app(project, None))
    assert "Dockerfile CMD names pkg.gone:app, but there is no module" in caught.value.message
    assert "main:app" not in caught.value.hint


def test_gunicorn_with_a_wsgi_worker_is_not_an_asgi_statement(tmp_path: Path) -> None:
    project = write(
        tmp_path,
        {**PACKAGE, "main.py": APP, "Procfile": "web: gunicorn -k gevent pkg.service:app\n"},
    )
    assert discover_app(project, None).spec == "main:app"


def test_a_configured_app_that_is_missing_proposes_what_was_found(tmp_path: Path) -> None:
    project = write(tmp_path, {**PACKAGE, "Dockerfile": "FROM x\nCMD uvicorn pkg.service:app\n"})
    with pytest.raises(SettingsError) as caught:
        discover_app(project, "mian:app")
    assert 'app = "pkg.service:app"' in caught.value.hint
    assert "main:app" not in caught.value.hint


def test_a_multi_stage_dockerfile_runs_its_last_stage(tmp_path: Path) -> None:
    project = write(
        tmp_path,
        {
            **PACKAGE,
            "Dockerfile": "FROM python:3.11 AS build\nWORKDIR /w\nCOPY requirements.txt .\n"
            'RUN pip wheel -r requirements.txt -w /wheels\nCMD ["python"]\n\n'
            "FROM python:3.11-slim\nWORKDIR /app\nCOPY --from=build /wheels /wheels\n"
            "COPY --chown=app:app . .\nUSER app\n"
            'ENTRYPOINT ["gunicorn", "-k", "uvicorn.workers.UvicornWorker"]\n'
            'CMD ["--bind", "0.0.0.0:8000", "pkg.service:app"]\n',
        },
    )
    target = discover_app(project, None)
    assert target.described == "pkg.service:app (from Dockerfile ENTRYPOINT + CMD)"


def test_doctor_shows_where_the_app_came_from_and_what_was_not_used(tmp_path: Path) -> None:
    from launcher.checks import DoctorContext
    from launcher.checks.project import check_app

    project = write(
        tmp_path / "p",
        {
            **PACKAGE,
            "pyproject.toml": '[project]\nname = "p"\nversion = "0"\n',
            "Dockerfile": "FROM x\nCMD uvicorn pkg.service:app --port 80\n",
        },
    )
    check = check_app(DoctorContext.build(project, env={}))
    assert (check.status, check.summary) == ("ok", "app pkg.service:app (from Dockerfile CMD)")
    assert check.details["origin"] == "Dockerfile CMD"

    (project / "Dockerfile").write_text("FROM x\nCMD uvicorn pkg.gone:app --port 80\n")
    (project / "main.py").write_text(APP)
    check = check_app(DoctorContext.build(project, env={}))
    assert check.status == "warn"
    assert check.summary.startswith(
        "app main:app (from main.py, fastapi-cli's default files); Dockerfile CMD names "
        "pkg.gone:app, but there is no module 'pkg.gone'"
    )
    assert 'app = "main:app"' in check.hint
