"""Provenance of a cached model: where it came from (endpoint, revision, commit) and when."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from launcher.models.registry import DEFAULT_ENDPOINT
from launcher.redact import redact_url

DOWNLOAD = "download"  # fetched by robo-backend from `endpoint`
ADOPTED = "legacy-cache"  # copied from fastembed's old temp cache (its origin is unknown)
FOUND = "found"  # already in the cache, written by another tool (its origin is unknown)


@dataclass(frozen=True)
class Provenance:
    """Where a cached model came from. `endpoint` has its credentials masked; it is None when
    the origin is unknown (a model fastembed or another tool put there)."""

    how: str
    endpoint: str | None
    revision: str | None
    commit: str | None
    fetched_at: str

    @classmethod
    def download(cls, endpoint: str, commit: str, revision: str = "main") -> Provenance:
        return cls(DOWNLOAD, normalize_endpoint(endpoint), revision, commit, _now())

    @classmethod
    def unknown(cls, how: str, commit: str | None) -> Provenance:
        return cls(how, None, None, commit, _now())

    @classmethod
    def from_json(cls, data: Any) -> Provenance | None:
        if not isinstance(data, dict) or not isinstance(data.get("how"), str):
            return None
        text = {k: data.get(k) if isinstance(data.get(k), str) else None for k in data}
        return cls(
            data["how"],
            text.get("endpoint"),
            text.get("revision"),
            text.get("commit"),
            text.get("fetched_at") or "",
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "how": self.how,
            "endpoint": self.endpoint,
            "revision": self.revision,
            "commit": self.commit,
            "fetched_at": self.fetched_at,
        }

    def describe(self) -> str:
        """`from https://huggingface.co, main @ 1a2b3c4d5e6f, 2026-12-01`, for people."""
        date = self.fetched_at[:10]
        if self.endpoint is None:
            origin = (
                "copied from fastembed's old temp cache"
                if self.how == ADOPTED
                else ("origin unknown (not downloaded by robo-backend)")
            )
            return f"{origin}, {date}" if date else origin
        at = f"{self.revision or 'main'} @ {(self.commit or '?')[:12]}"
        return f"from {self.endpoint}, {at}, {date}"

    def other_endpoint(self, current: str) -> bool:
        """Was this model fetched from another endpoint than `current`? (False when unknown.)"""
        if self.endpoint is None:
            return False
        return _where(self.endpoint) != _where(current)


def normalize_endpoint(endpoint: str) -> str:
    """The endpoint as recorded and compared: credentials masked, scheme and host lower case,
    no trailing slash."""
    masked = redact_url(endpoint.strip()).rstrip("/")
    try:
        parts = urlsplit(masked)
    except ValueError:
        return masked
    if not parts.scheme or not parts.netloc:
        return masked
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path}"


def _where(endpoint: str) -> str:
    """The endpoint without its credentials (masked or not), for comparing two of them."""
    normalized = normalize_endpoint(endpoint)
    scheme, _, rest = normalized.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}" if rest else normalized


def current_endpoint(env: Mapping[str, str]) -> str:
    """The endpoint a download would use now: HF_ENDPOINT, else the Hugging Face hub."""
    return normalize_endpoint(env.get("HF_ENDPOINT", "").strip() or DEFAULT_ENDPOINT)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
