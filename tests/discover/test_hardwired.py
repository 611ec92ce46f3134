"""What the backend's code hard-wires: the literal model and cache_dir, and where each is."""

from __future__ import annotations

from pathlib import Path

import pytest

from launcher.discover import find_hardwired
from launcher.discover.adopt import adopt_hardwired
from launcher.settings import Origin, Source, resolve_settings

CONFIG = """from pydantic_settings import BaseSettings


class Settings(BaseSettings):
    app_name: str = "Textbook RAG"
    embedding_model: str = "BAAI/bge-small-en-v1.5"
    qdrant_url: str = ":memory:"


settings = Settings()
"""

SERVICE = """from fastembed import TextEmbedding

from src.config import settings


class EmbeddingService:
    def __init__(self) -> None:
        self.model = TextEmbedding(
            model_name=settings.embedding_model,
            cache_dir="./cache/models",
        )
"""


def write(project: Path, relative: str, text: str) -> Path:
    path = project / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    project = tmp_path / "backend"
    write(project, "pyproject.toml", '[project]\nname = "backend"\nversion = "0"\n')
    write(project, "src/__init__.py", "")
    write(project, "src/config.py", CONFIG)
    write(project, "src/services/embeddings.py", SERVICE)
    write(project, "src/main.py", "from fastapi import FastAPI\napp = FastAPI()\n")
    return project


def test_settings_default_and_literal_cache_dir(seed: Path) -> None:
    found = find_hardwired(seed)
    assert found.model is not None
    assert found.model.value == "BAAI/bge-small-en-v1.5"
    assert found.model.where == "src/config.py:6"
    assert "default of embedding_model" in found.model.how
    assert found.cache_dir is not None
    assert found.cache_dir.value == str(seed / "cache" / "models")
    assert found.cache_dir.where == "src/services/embeddings.py:8"
    assert found.cache_dir.describe("cache_dir") == (
        "cache_dir from src/services/embeddings.py:8 (literal cache_dir= of TextEmbedding(...))"
    )


def test_adopted_only_where_settings_are_defaults(seed: Path) -> None:
    settings = adopt_hardwired(resolve_settings(seed, {}, {}))
    assert settings.model == "BAAI/bge-small-en-v1.5"
    assert settings.origin("model") == Origin(Source.CODE, "code: src/config.py:6")
    assert settings.cache_dir == str(seed / "cache" / "models")
    assert settings.origin("cache_dir").detail == "code: src/services/embeddings.py:8"

    explicit = resolve_settings(seed, {"cache_dir": "/elsewhere"}, {"ROBO_BACKEND_MODEL": "x/y"})
    explicit = adopt_hardwired(explicit)
    assert explicit.cache_dir == "/elsewhere"
    assert explicit.origin("cache_dir") == Origin(Source.FLAG, "--cache-dir")
    assert explicit.model == "x/y"
    assert explicit.origin("model") == Origin(Source.ENV, "ROBO_BACKEND_MODEL")


def test_qdrant_client_document_model(tmp_path: Path) -> None:
    write(
        tmp_path,
        "main.py",
        "from qdrant_client import QdrantClient, models\n"
        "client = QdrantClient(':memory:')\n"
        "def add(text):\n"
        "    return models.Document(text=text, model='sentence-transformers/all-MiniLM-L6-v2')\n",
    )
    found = find_hardwired(tmp_path)
    assert found.model is not None
    assert found.model.value == "sentence-transformers/all-MiniLM-L6-v2"
    assert found.model.where == "main.py:4"
    assert found.cache_dir is None


def test_module_constant_positional_model_and_path_cache(tmp_path: Path) -> None:
    write(
        tmp_path,
        "app/embed.py",
        "from pathlib import Path\nfrom fastembed import TextEmbedding\n"
        "MODEL = 'BAAI/bge-small-en-v1.5'\n"
        "model = TextEmbedding(MODEL, cache_dir=Path('/srv/models'))\n",
    )
    found = find_hardwired(tmp_path)
    assert found.model is not None and found.model.where == "app/embed.py:3"
    assert found.cache_dir is not None and found.cache_dir.value == "/srv/models"


def test_nothing_literal_says_nothing(tmp_path: Path) -> None:
    write(
        tmp_path,
        "main.py",
        "import os\nfrom fastembed import TextEmbedding\n"
        "m = TextEmbedding(os.environ['MODEL'], cache_dir=os.path.join('a', 'b'))\n",
    )
    found = find_hardwired(tmp_path)
    assert found.model is None and found.cache_dir is None
    assert found.to_json()["model"] is None


def test_venv_and_tests_are_not_the_backend(tmp_path: Path) -> None:
    line = "from fastembed import TextEmbedding\nTextEmbedding('a/b', cache_dir='x')\n"
    write(tmp_path, ".venv/lib/python3.11/site-packages/fastembed/x.py", line)
    write(tmp_path, "venv/pyvenv.cfg", "home = /usr/bin\n")
    write(tmp_path, "venv/lib/thing.py", line)
    write(tmp_path, "tests/test_x.py", line)
    found = find_hardwired(tmp_path)
    assert found.model is None and found.cache_dir is None


def test_only_a_model_fastembed_can_prefetch_is_adopted(tmp_path: Path) -> None:
    write(
        tmp_path,
        "config.py",
        "class Settings:\n"
        "    llm_model_name: str = 'openai/gpt-4o-mini'\n"
        "    embedding_model: str = 'sentence-transformers/all-MiniLM-L6-v2'\n",
    )
    write(tmp_path, "pyproject.toml", '[project]\nname = "p"\nversion = "0"\n')
    found = find_hardwired(tmp_path)
    assert found.model is not None and found.model.value == "openai/gpt-4o-mini"
    settings = adopt_hardwired(resolve_settings(tmp_path, {}, {}))
    assert settings.model == "sentence-transformers/all-MiniLM-L6-v2"
    assert settings.origin("model").detail == "code: config.py:3"


def test_an_explicit_setting_that_differs_from_the_code_is_warned_about(seed: Path) -> None:
    from loguru import logger

    messages: list[str] = []
    handler = logger.add(messages.append, level="WARNING", format="{message}")
    try:
        adopt_hardwired(resolve_settings(seed, {"cache_dir": str(seed / "elsewhere")}, {}))
    finally:
        logger.remove(handler)
    text = "".join(messages)
    assert "cache_dir = " in text and "wins, but the backend's code reads" in text
    assert "src/services/embeddings.py:8" in text


def test_doctor_shows_where_the_adopted_values_come_from(seed: Path) -> None:
    from launcher.checks import DoctorContext
    from launcher.checks.configuration import check_settings

    context = DoctorContext.build(seed, env={})
    check = check_settings(context)
    assert check.status == "ok"
    assert "model='BAAI/bge-small-en-v1.5' (code: src/config.py:6)" in check.summary
    assert "(code: src/services/embeddings.py:8)" in check.summary
    values = check.details["values"]
    assert values["cache_dir"] == {
        "value": str(seed / "cache" / "models"),
        "source": "code: src/services/embeddings.py:8",
    }


def test_an_environment_variable_with_a_literal_default(tmp_path: Path) -> None:
    write(
        tmp_path,
        "main.py",
        "import os\nfrom fastembed import TextEmbedding\n"
        "m = TextEmbedding(cache_dir=os.getenv('MODEL_CACHE', './models'),\n"
        "                  model_name=os.environ.get('EMBED', 'BAAI/bge-small-en-v1.5'))\n",
    )
    found = find_hardwired(tmp_path)
    assert found.cache_dir is not None and found.cache_dir.value == str(tmp_path / "models")
    assert found.model is not None and found.model.where == "main.py:3"
