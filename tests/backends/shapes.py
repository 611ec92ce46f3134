"""Backends shaped like public FastAPI + fastembed ones, written as files into a folder.

None of them reads ROBO_BACKEND_MODEL or the status file: they load their model their own way
(at import, with a hard-coded name or cache folder, or through qdrant-client), exactly as their
authors run them with `uv run uvicorn src.main:app`. `up` must bring each one up unchanged.
"""

from __future__ import annotations

from pathlib import Path

PASSAGES = (
    "A humanoid robot keeps its balance by moving its centre of mass over its feet.",
    "Slice the onions thinly and fry them until golden.",
)


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def pyproject(name: str, *dependencies: str, python: str = ">=3.10") -> str:
    deps = "".join(f'    "{dep}",\n' for dep in dependencies)
    return (
        f'[project]\nname = "{name}"\nversion = "0.1.0"\nrequires-python = "{python}"\n'
        f"dependencies = [\n{deps}]\n"
    )


SEED_CONFIG = '''"""Application settings."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    app_name: str = "Physical AI Textbook API"
    embedding_model: str = "BAAI/bge-small-en-v1.5"
    top_k: int = 3


settings = Settings()
'''

SEED_EMBEDDINGS = '''"""Embedding service: loads the model once, at import."""

from fastembed import TextEmbedding

from src.config import settings


class EmbeddingService:
    def __init__(self, model_name: str = settings.embedding_model) -> None:
        self.model_name = model_name
        self.model = TextEmbedding(model_name=model_name)
        self.dim = len(next(iter(self.model.embed(["warm up"]))))

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [vector.tolist() for vector in self.model.embed(texts)]


embedding_service = EmbeddingService()
'''

SEED_HEALTH = """from fastapi import APIRouter

from src.embedding_service import embedding_service

router = APIRouter()


@router.get("/health")
def health() -> dict[str, object]:
    return {
        "status": "healthy",
        "model": embedding_service.model_name,
        "dim": embedding_service.dim,
    }
"""

SEED_MAIN = """from fastapi import FastAPI

from src.api.health import router as health_router
from src.config import settings

app = FastAPI(title=settings.app_name)
app.include_router(health_router)
"""


def seed_backend(root: Path, fastembed: str = "fastembed==0.7.4") -> Path:
    """The seed's own layout: `backend/` with src/main.py, src/api/health.py,
    src/embedding_service.py and src/config.py; bge loaded at import."""
    return write_tree(
        root,
        {
            "pyproject.toml": pyproject(
                "textbook-rag-backend", "fastapi", "uvicorn", fastembed, "pydantic-settings"
            ),
            "src/__init__.py": "",
            "src/api/__init__.py": "",
            "src/config.py": SEED_CONFIG,
            "src/embedding_service.py": SEED_EMBEDDINGS,
            "src/api/health.py": SEED_HEALTH,
            "src/main.py": SEED_MAIN,
        },
    )


QDRANT_MAIN = f"""from fastapi import FastAPI
from qdrant_client import QdrantClient, models

COLLECTION = "passages"
EMBEDDING_MODEL = "BAAI/bge-small-en-v1.5"
PASSAGES = {list(PASSAGES)!r}

client = QdrantClient(":memory:")
client.create_collection(
    COLLECTION,
    vectors_config=models.VectorParams(
        size=client.get_embedding_size(EMBEDDING_MODEL), distance=models.Distance.COSINE
    ),
)
client.upsert(
    COLLECTION,
    points=[
        models.PointStruct(
            id=i, vector=models.Document(text=text, model=EMBEDDING_MODEL), payload={{"text": text}}
        )
        for i, text in enumerate(PASSAGES)
    ],
)

app = FastAPI()


@app.get("/health")
def health() -> dict[str, object]:
    return {{"status": "ok", "points": client.count(COLLECTION).count}}


@app.get("/search")
def search(q: str) -> dict[str, object]:
    hits = client.query_points(
        COLLECTION, query=models.Document(text=q, model=EMBEDDING_MODEL), limit=1
    ).points
    return {{"top": hits[0].payload["text"]}}
"""


def qdrant_backend(root: Path) -> Path:
    """qdrant-client's own fastembed integration on an in-memory Qdrant."""
    return write_tree(
        root,
        {
            "pyproject.toml": pyproject(
                "qdrant-rag", "fastapi", "uvicorn", "qdrant-client[fastembed]>=1.14"
            ),
            "main.py": QDRANT_MAIN,
        },
    )


HARDCODED_MAIN = """from fastapi import FastAPI
from fastembed import TextEmbedding

embedder = TextEmbedding(model_name="BAAI/bge-small-en-v1.5", cache_dir="./cache/models")
DIM = len(next(iter(embedder.embed(["warm up"]))))

app = FastAPI()


@app.get("/health")
def health() -> dict[str, object]:
    return {"status": "ok", "dim": DIM}
"""


def hardcoded_cache_backend(root: Path, fastembed: str = "fastembed>=0.9,<0.10") -> Path:
    """`TextEmbedding(..., cache_dir="./cache/models")`: ignores FASTEMBED_CACHE_PATH."""
    return write_tree(
        root,
        {
            "pyproject.toml": pyproject("hardcoded-cache", "fastapi", "uvicorn", fastembed),
            "app.py": HARDCODED_MAIN,
        },
    )


PY312_MAIN = """from fastapi import FastAPI

type Vector = list[float]


def load_embedder():  # called by a batch job, not at start-up; its cache folder still counts
    from fastembed import TextEmbedding

    return TextEmbedding("BAAI/bge-small-en-v1.5", cache_dir="./models-312")


def mean[T: float](values: list[T]) -> float:
    return sum(values) / len(values)


app = FastAPI()


@app.get("/health")
def health() -> dict[str, object]:
    vector: Vector = [1.0, 2.0, 3.0]
    return {"status": "ok", "mean": mean(vector)}
"""


def py312_backend(root: Path) -> Path:
    """A backend whose code needs Python 3.12+ grammar (`type` aliases, PEP 695 generics)."""
    return write_tree(
        root,
        {
            "pyproject.toml": pyproject("modern", "fastapi", "uvicorn", python=">=3.12"),
            "main.py": PY312_MAIN,
        },
    )


STATED_CONFIG = '''"""Constants of the search service."""

NEURAL_ENCODER = 'sentence-transformers/all-MiniLM-L6-v2'
TOP_K = 3
'''

STATED_ENCODER = '''"""The encoder, loaded once at import with the model named in config.py."""

from fastembed import TextEmbedding

from config import NEURAL_ENCODER

encoder = TextEmbedding(model_name=NEURAL_ENCODER)
DIM = len(next(iter(encoder.embed(["warm up"]))))
'''

STATED_SERVICE = """from fastapi import FastAPI

from config import NEURAL_ENCODER
from pkg.admin import admin
from pkg.encoder import DIM

app = FastAPI(title="search")
app.mount("/admin", admin)


@app.get("/health")
def health() -> dict[str, object]:
    return {"status": "ok", "model": NEURAL_ENCODER, "dim": DIM}
"""

STATED_ADMIN = """from fastapi import FastAPI

admin = FastAPI(title="admin")


@admin.get("/ping")
def ping() -> str:
    return "pong"
"""

STATED_DOCKERFILE = """FROM python:3.11-slim
WORKDIR /srv
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
EXPOSE 8080
CMD ["uvicorn", "pkg.service:app", "--host", "0.0.0.0", "--port", "8080"]
"""


def dockerfile_package_backend(root: Path, fastembed: str = "fastembed==0.7.4") -> Path:
    """The app in a package module (`pkg/service.py`, with a second FastAPI() mounted from
    pkg/admin.py), said only in the Dockerfile's CMD; the model a constant in config.py,
    imported by the module that loads it; a main.py that is a command-line script."""
    return write_tree(
        root,
        {
            "requirements.txt": f"fastapi\nuvicorn\n{fastembed}\n",
            "Dockerfile": STATED_DOCKERFILE,
            "config.py": STATED_CONFIG,
            "main.py": 'if __name__ == "__main__":\n    print("use the Docker image")\n',
            "pkg/__init__.py": "",
            "pkg/encoder.py": STATED_ENCODER,
            "pkg/admin.py": STATED_ADMIN,
            "pkg/service.py": STATED_SERVICE,
        },
    )


LAZY_QDRANT_MAIN = f"""from fastapi import FastAPI
from qdrant_client import QdrantClient, models

COLLECTION = "passages"
EMBEDDING_MODEL = "BAAI/bge-small-en-v1.5"
PASSAGES = {list(PASSAGES)!r}

client = QdrantClient(":memory:")
app = FastAPI()


def collection() -> str:
    if not client.collection_exists(COLLECTION):  # the model loads here, on the first query
        client.create_collection(
            COLLECTION,
            vectors_config=models.VectorParams(
                size=client.get_embedding_size(EMBEDDING_MODEL), distance=models.Distance.COSINE
            ),
        )
        client.upsert(
            COLLECTION,
            points=[
                models.PointStruct(
                    id=i,
                    vector=models.Document(text=text, model=EMBEDDING_MODEL),
                    payload={{"text": text}},
                )
                for i, text in enumerate(PASSAGES)
            ],
        )
    return COLLECTION


@app.get("/health")
def health() -> dict[str, str]:
    return {{"status": "ok"}}


@app.get("/search")
def search(q: str) -> dict[str, object]:
    hits = client.query_points(
        collection(), query=models.Document(text=q, model=EMBEDDING_MODEL), limit=1
    ).points
    return {{"top": hits[0].payload["text"]}}
"""


def lazy_qdrant_backend(root: Path, fastembed: str = "fastembed==0.7.3") -> Path:
    """qdrant-client's fastembed integration, loading the model only on the first search: its
    health route answers before the model was ever opened."""
    return write_tree(
        root,
        {
            "pyproject.toml": pyproject(
                "lazy-qdrant", "fastapi", "uvicorn", "qdrant-client", fastembed
            ),
            "main.py": LAZY_QDRANT_MAIN,
        },
    )
