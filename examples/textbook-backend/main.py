"""The textbook backend: semantic search over a dozen passages on physical AI and robotics.

Run it with `robo-backend up` (venv, dependencies, model prefetch, supervision), or by hand
with `uvicorn main:app`: without the launcher's environment it runs degraded (no model) and
says why in its log and on /health.

- GET  /health  → {"status": "healthy"|"degraded", "model_loaded": bool, "model": {...}|null}
  (`model.background`: what the launcher does about a model still missing: `retrying`, ...)
- POST /search  {"query": str, "k": 1..12} → the top-k passages with their scores
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException
from passages import PASSAGES
from pydantic import BaseModel, Field
from search import SearchIndex


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Loaded before the server accepts requests, so a 200 from /health means "ready".
    app.state.index = SearchIndex.from_env()
    yield


app = FastAPI(title="textbook-backend", version="1.0.0", lifespan=lifespan)


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=2000)
    k: int = Field(default=3, ge=1, le=len(PASSAGES))


class Result(BaseModel):
    id: str
    title: str
    text: str
    score: float


class SearchResponse(BaseModel):
    query: str
    model: str
    results: list[Result]


def _status_model() -> dict[str, Any] | None:
    """The `model` object of the launcher's status file (schema 1), or None without one."""
    path = os.environ.get("ROBO_BACKEND_STATUS_FILE", "")
    if not path:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    model = data.get("model") if isinstance(data, dict) else None
    return model if isinstance(model, dict) else None


def _degraded_fix() -> str:
    """What to do about a degraded start: the model is loaded once, when the backend starts."""
    background = (_status_model() or {}).get("background") or {}
    if isinstance(background, dict) and background.get("state") == "retrying":
        return (
            "robo-backend keeps downloading the model in the background and restarts this "
            "backend onto it once it is there: nothing to do but wait (or run "
            "`robo-backend prefetch` and restart `robo-backend up`)."
        )
    if os.environ.get("ROBO_BACKEND_STATUS_FILE"):  # started by `robo-backend up`
        return (
            "Make the model ready with `robo-backend prefetch` (once the hub is reachable), "
            "then restart `robo-backend up`: the model is loaded when the backend starts."
        )
    return "Run it with `robo-backend up` so the model is prefetched (see /health)."


def _index() -> SearchIndex:
    return app.state.index  # type: ignore[no-any-return]


@app.get("/health")
def health() -> dict[str, Any]:
    index = _index()
    body: dict[str, Any] = {
        "status": "healthy" if index.loaded else "degraded",
        "model_loaded": index.loaded,
        "model": _status_model(),
    }
    if not index.loaded:
        body["reason"] = index.reason
    return body


@app.post("/search", response_model=SearchResponse)
def search(request: SearchRequest) -> SearchResponse:
    index = _index()
    if not index.loaded:
        raise HTTPException(
            status_code=503,
            detail=f"search is unavailable, the backend runs degraded: {index.reason}. "
            + _degraded_fix(),
        )
    hits = index.search(request.query, request.k)
    return SearchResponse(
        query=request.query,
        model=index.model_name or "",
        results=[
            Result(id=h.passage.id, title=h.passage.title, text=h.passage.text, score=h.score)
            for h in hits
        ],
    )
