"""Backends on newer Python syntax than the launcher's: parsed by the backend's interpreter.

`type X = ...` and `def f[T]` are Python 3.12 grammar. The launcher (3.10/3.11) cannot parse
them; the venv's own interpreter can, and a token scan still finds top-level names without one.
"""

from __future__ import annotations

import glob
import sys
from pathlib import Path

import pytest

from launcher.discover import discover_app, find_hardwired
from launcher.discover.source import BACKEND, LAUNCHER, TOKENS, read_facts

PY312 = sorted(glob.glob("/root/.pyenv/versions/3.1[2-9]*/bin/python3.1[2-9]"))
needs_312 = pytest.mark.skipif(
    not PY312, reason="no Python 3.12+ interpreter on this machine (looked in ~/.pyenv)"
)
needs_old_launcher = pytest.mark.skipif(
    sys.version_info >= (3, 12), reason="the launcher's own Python already parses 3.12 syntax"
)

NEW_SYNTAX = """from fastapi import FastAPI
from fastembed import TextEmbedding

type Vector = list[float]


def first[T](items: list[T]) -> T:
    return items[0]


if True:  # a token scan sees only unindented lines
    app = FastAPI()

embedder = TextEmbedding("BAAI/bge-small-en-v1.5", cache_dir="./models-cache")
"""


def write(project: Path, relative: str, text: str) -> Path:
    path = project / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@needs_312
@needs_old_launcher
def test_backend_python_parses_what_the_launcher_cannot(tmp_path: Path) -> None:
    main = write(tmp_path, "main.py", NEW_SYNTAX)
    python = Path(PY312[-1])
    facts = read_facts([main], python)[main]
    assert facts.parsed_by == BACKEND
    assert facts.error is not None and "SyntaxError" in facts.error
    assert discover_app(tmp_path, None, python).spec == "main:app"
    found = find_hardwired(tmp_path, python)
    assert found.model is not None and found.model.value == "BAAI/bge-small-en-v1.5"
    assert found.cache_dir is not None
    assert found.cache_dir.value == str(tmp_path / "models-cache")
    assert found.cache_dir.where == "main.py:14"
    assert found.unparsed == []


@needs_old_launcher
def test_without_an_interpreter_tokens_still_find_top_level_names(tmp_path: Path) -> None:
    text = NEW_SYNTAX.replace("if True:  # a token scan sees only unindented lines\n    ", "")
    main = write(tmp_path, "main.py", text)
    facts = read_facts([main], None)[main]
    assert facts.parsed_by == TOKENS
    assert facts.names is not None and {"Vector", "first", "app", "embedder"} <= facts.names
    assert facts.fastapi == ("app",)
    assert discover_app(tmp_path, None).spec == "main:app"
    assert find_hardwired(tmp_path).unparsed == [main]


def test_parsable_files_never_start_a_process(tmp_path: Path) -> None:
    main = write(tmp_path, "main.py", "from fastapi import FastAPI\napp = FastAPI()\n")
    missing = tmp_path / "no-such-python"
    assert read_facts([main], missing)[main].parsed_by == LAUNCHER


@needs_old_launcher
def test_a_broken_interpreter_falls_back_to_tokens(tmp_path: Path) -> None:
    main = write(tmp_path, "main.py", NEW_SYNTAX.replace("if True:  # a token", "# a token"))
    facts = read_facts([main], tmp_path / "no-such-python")[main]
    assert facts.parsed_by == TOKENS


@needs_312
@needs_old_launcher
def test_before_the_venv_exists_the_configured_python_reads_the_code(tmp_path: Path) -> None:
    from launcher.discover import find_hardwired
    from launcher.discover.adopt import adopt_hardwired
    from launcher.settings import resolve_settings
    from launcher.venvs.interpreters import venv_interpreter

    write(tmp_path, "main.py", NEW_SYNTAX)
    explicit = resolve_settings(tmp_path, {"python": PY312[-1]}, {})
    found = find_hardwired(tmp_path, venv_interpreter(explicit))
    assert found.unparsed == []
    settings = adopt_hardwired(explicit, venv_interpreter(explicit))
    assert settings.cache_dir == str(tmp_path / "models-cache")
    assert settings.origin("cache_dir").detail == "code: main.py:14"
