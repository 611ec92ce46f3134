"""FastAPI apps shaped like real backends, for the health-route discovery tests.

ROUTES selects the shape: `api` (the health route only under a router with the /api prefix,
as many public backends have it), `none` (no health route at all), `docs-off` (the /api health
route, but no OpenAPI document).
"""

from __future__ import annotations

import os

from fastapi import APIRouter, FastAPI

SHAPE = os.environ.get("ROUTES", "api")

app = FastAPI(openapi_url=None if SHAPE == "docs-off" else "/openapi.json")
api = APIRouter(prefix="/api")


@api.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@api.get("/items/{item_id}")
def item(item_id: int) -> dict[str, int]:
    return {"id": item_id}


@app.get("/")
def root() -> dict[str, str]:
    return {"hello": "world"}


if SHAPE in {"api", "docs-off"}:
    app.include_router(api)
