"""Model names resolved through the project's own imports, environment variables and .env."""

from __future__ import annotations

from pathlib import Path

import pytest

from launcher.discover import find_hardwired
from launcher.discover.adopt import adopt_hardwired
from launcher.settings import resolve_settings
from tests.helpers.files import warnings_while, write

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
BGE = "BAAI/bge-small-en-v1.5"
PYPROJECT = '[project]\nname = "p"\nversion = "0"\n'


def test_a_constant_in_config_py_is_the_model(tmp_path: Path) -> None:
    """The issue's shape: `TextEmbedding(model_name=NEURAL_ENCODER)`, the constant in config.py
    (a name no settings-field rule would guess): MiniLM is adopted, not bge."""
    project = write(
        tmp_path,
        {
            "pyproject.toml": PYPROJECT,
            "config.py": "import os\n\nNEURAL_ENCODER = 'sentence-transformers/all-MiniLM-L6-v2'\n"
            "TOP_K = 5\n",
            "services/search.py": "from fastembed import TextEmbedding\n\n"
            "from config import NEURAL_ENCODER\n\n"
            "encoder = TextEmbedding(model_name=NEURAL_ENCODER)\n",
            "main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
        },
    )
    settings = adopt_hardwired(resolve_settings(project, {}, {}))
    found = find_hardwired(project, env={})
    assert found.model is not None and found.model.loaded
    assert settings.model == MINILM
    assert settings.origin("model").detail == "code: config.py:3"
    assert found.model.describe("model") == (
        "model from config.py:3 (default of NEURAL_ENCODER, the model of TextEmbedding(...) "
        "at services/search.py:5)"
    )


@pytest.mark.parametrize(
    ("files", "where"),
    [
        (  # a relative import in a package
            {
                "app/__init__.py": "",
                "app/settings.py": f"MODEL = {MINILM!r}\n",
                "app/embed.py": "from fastembed import TextEmbedding\nfrom .settings import MODEL"
                " as NAME\nmodel = TextEmbedding(NAME)\n",
            },
            "app/settings.py:1",
        ),
        (  # import config; config.MODEL
            {
                "config.py": f"MODEL = {MINILM!r}\n",
                "embed.py": "import config\nfrom fastembed import TextEmbedding\n"
                "model = TextEmbedding(model_name=config.MODEL)\n",
            },
            "config.py:1",
        ),
        (  # import a.b as c; c.MODEL, and from pkg import module; module.MODEL
            {
                "app/__init__.py": "",
                "app/core/__init__.py": "",
                "app/core/constants.py": f"EMBEDDER = {MINILM!r}\n",
                "app/embed.py": "import app.core.constants as k\nfrom app.core import constants"
                "\nfrom fastembed import TextEmbedding\n"
                "a = TextEmbedding(model_name=k.EMBEDDER)\n"
                "b = TextEmbedding(model_name=constants.EMBEDDER)\n",
            },
            "app/core/constants.py:1",
        ),
        (  # a constant that is another module's constant, imported with *
            {
                "defaults.py": f"ENCODER = {MINILM!r}\n",
                "config.py": "from defaults import *\nimport defaults\nCHOSEN = defaults.ENCODER\n",
                "embed.py": "from fastembed import TextEmbedding\nfrom config import CHOSEN, "
                "ENCODER\nmodel = TextEmbedding(CHOSEN)\nother = TextEmbedding(ENCODER)\n",
            },
            "defaults.py:1",
        ),
        (  # a settings instance imported from another module, its class elsewhere
            {
                "core/__init__.py": "",
                "core/base.py": f"class Settings:\n    encoder: str = {MINILM!r}\n",
                "core/config.py": "from core.base import Settings\nsettings = Settings()\n",
                "embed.py": "from fastembed import TextEmbedding\nfrom core.config import "
                "settings\nmodel = TextEmbedding(model_name=settings.encoder)\n",
            },
            "core/base.py:2",
        ),
    ],
    ids=["relative", "module-attribute", "dotted-and-from-package", "star-and-alias", "instance"],
)
def test_names_followed_through_imports(tmp_path: Path, files: dict[str, str], where: str) -> None:
    found = find_hardwired(write(tmp_path, files), env={})
    assert found.model is not None
    assert (found.model.value, found.model.where) == (MINILM, where)
    assert found.others == []


def test_an_imported_name_wins_over_a_same_named_constant_elsewhere(tmp_path: Path) -> None:
    """Two modules bind EMBEDDING_MODEL; the loading call imports one of them."""
    project = write(
        tmp_path,
        {
            "legacy/__init__.py": "",
            "legacy/old_config.py": f"EMBEDDING_MODEL = {BGE!r}\n",
            "config.py": f"EMBEDDING_MODEL = {MINILM!r}\n",
            "embed.py": "from fastembed import TextEmbedding\nfrom config import EMBEDDING_MODEL\n"
            "model = TextEmbedding(EMBEDDING_MODEL)\n",
        },
    )
    found = find_hardwired(project, env={})
    assert found.model is not None and found.model.where == "config.py:1"


def test_getenv_default_unless_the_variable_is_set(tmp_path: Path) -> None:
    project = write(
        tmp_path,
        {
            "config.py": f"import os\nMODEL = os.getenv('EMBED_MODEL', {BGE!r})\n"
            "CACHE = os.environ.get('MODEL_CACHE', './models')\n",
            "embed.py": "from fastembed import TextEmbedding\nfrom config import MODEL, CACHE\n"
            "model = TextEmbedding(MODEL, cache_dir=CACHE)\n",
        },
    )
    unset = find_hardwired(project, env={})
    assert unset.model is not None and unset.model.value == BGE
    assert unset.cache_dir is not None and unset.cache_dir.value == str(project / "models")

    from_env = find_hardwired(project, env={"EMBED_MODEL": MINILM, "MODEL_CACHE": "/srv/m"})
    assert from_env.model is not None and from_env.model.value == MINILM
    assert from_env.model.where == "config.py:2"
    assert from_env.model.how.startswith("EMBED_MODEL from the environment")
    assert from_env.cache_dir is not None and from_env.cache_dir.value == "/srv/m"

    (project / ".env").write_text(f"EMBED_MODEL={MINILM}  # the small one\n", encoding="utf-8")
    from_dotenv = find_hardwired(project, env={})
    assert from_dotenv.model is not None and from_dotenv.model.value == MINILM
    assert from_dotenv.model.how.startswith("EMBED_MODEL from .env")
    # the environment wins over .env, as python-dotenv's load_dotenv leaves it
    both = find_hardwired(project, env={"EMBED_MODEL": BGE})
    assert both.model is not None and both.model.value == BGE


def test_getenv_directly_in_the_call_reads_dotenv_too(tmp_path: Path) -> None:
    project = write(
        tmp_path,
        {
            "main.py": "import os\nfrom fastembed import TextEmbedding\n"
            f"m = TextEmbedding(model_name=os.getenv('EMBEDDER', {BGE!r}))\n",
            ".env": f"EMBEDDER='{MINILM}'\n",
        },
    )
    found = find_hardwired(project, env={})
    assert found.model is not None and found.model.value == MINILM
    assert found.model.where == "main.py:3"


def test_a_model_the_code_loads_that_cannot_be_prefetched_is_a_warning(tmp_path: Path) -> None:
    project = write(
        tmp_path,
        {
            "pyproject.toml": PYPROJECT,
            "config.py": "CUSTOM = 'acme/custom-embeddings-v3'\n",
            "embed.py": "from fastembed import TextEmbedding\nfrom config import CUSTOM\n\n"
            "model = TextEmbedding(model_name=CUSTOM)\n",
        },
    )
    explicit = resolve_settings(project, {}, {})
    adopted = []
    warned = warnings_while(lambda: adopted.append(adopt_hardwired(explicit)))
    assert adopted[0].origin("model").detail == "default"
    assert warned == [
        "config.py:1: the backend loads the model 'acme/custom-embeddings-v3' (default of "
        "CUSTOM, the model of TextEmbedding(...) at embed.py:4), which robo-backend cannot "
        f"prefetch (fastembed does not list it); prefetching {BGE!r} instead, which the "
        "backend may not use"
    ]


def test_a_model_only_guessed_from_a_field_name_is_not_warned_about(tmp_path: Path) -> None:
    project = write(
        tmp_path,
        {"pyproject.toml": PYPROJECT, "config.py": "llm_model_name = 'openai/gpt-4o-mini'\n"},
    )
    explicit = resolve_settings(project, {}, {})
    adopted = []
    assert warnings_while(lambda: adopted.append(adopt_hardwired(explicit))) == []
    assert adopted[0].origin("model").detail == "default"


def test_imports_never_leave_the_project(tmp_path: Path) -> None:
    """A module of the same name in the venv or in a nested project is not this project's."""
    project = write(
        tmp_path,
        {
            "pyproject.toml": PYPROJECT,
            ".venv/pyvenv.cfg": "home = /usr/bin\n",
            ".venv/lib/python3.11/site-packages/settings.py": f"MODEL = {MINILM!r}\n",
            "vendor/lib/pyproject.toml": PYPROJECT,
            "vendor/lib/constants.py": f"MODEL = {MINILM!r}\n",
            "main.py": "from fastembed import TextEmbedding\nfrom settings import MODEL\n"
            "from vendor.lib.constants import MODEL as OTHER\n"
            "a = TextEmbedding(MODEL)\nb = TextEmbedding(OTHER)\n",
        },
    )
    found = find_hardwired(project, env={})
    assert found.model is None
