"""Integrity of cached files: content hashes (sha256, git blob sha1) and the ONNX check."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

HEX = frozenset("0123456789abcdef")


def file_digests(path: Path, *, git_blob: bool = False) -> tuple[str, str | None]:
    """(sha256, git blob sha1 or None) of a file, read once."""
    sha256 = hashlib.sha256()
    sha1 = None
    if git_blob:
        sha1 = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            sha256.update(chunk)
            if sha1 is not None:
                sha1.update(chunk)
    return sha256.hexdigest(), (sha1.hexdigest() if sha1 is not None else None)


def is_hash_name(name: str) -> bool:
    """Is `name` a blob name that is a content hash (40 or 64 lower-case hex characters)?"""
    return len(name) in (40, 64) and all(c in HEX for c in name)


def content_matches(path: Path, etag: str) -> bool:
    """Does the file's content hash to `etag` (sha256 for 64 hex chars, git sha1 for 40)?"""
    etag = etag.strip('"').lower()
    if len(etag) == 64:
        return file_digests(path)[0] == etag
    if len(etag) == 40:
        return file_digests(path, git_blob=True)[1] == etag
    return False


def onnx_looks_complete(path: Path) -> bool:
    """A cheap structural check of an ONNX file without onnx/onnxruntime.

    Walks the ModelProto's top-level protobuf fields with seeks only: a truncated file fails on
    a field running past the end, garbage on an invalid wire type. So "Protobuf parsing failed"
    at backend start-up becomes "corrupt" at inspection time.
    """
    try:
        size = path.stat().st_size
        if size == 0:
            return False
        with open(path, "rb") as handle:
            return _walk_fields(handle, size)
    except OSError:
        return False


def _walk_fields(handle: Any, size: int) -> bool:
    seen_graph = False
    while handle.tell() != size:
        key = _read_varint(handle)
        if key is None:
            return False
        number, wire = key >> 3, key & 7
        if number == 0:
            return False
        if wire == 2:
            length = _read_varint(handle)
            if length is None or handle.tell() + length > size:
                return False
            if number == 7:  # ModelProto.graph
                seen_graph = length > 0
            handle.seek(length, os.SEEK_CUR)
        elif not _skip_scalar(handle, wire):
            return False
        if handle.tell() > size:
            return False
    return seen_graph


def _skip_scalar(handle: Any, wire: int) -> bool:
    """Skip a varint (0), fixed64 (1) or fixed32 (5) value; False for any other wire type."""
    if wire == 0:
        return _read_varint(handle) is not None
    if wire in (1, 5):
        handle.seek(8 if wire == 1 else 4, os.SEEK_CUR)
        return True
    return False


def _read_varint(handle: Any) -> int | None:
    result = 0
    for shift in range(0, 64, 7):
        byte = handle.read(1)
        if not byte:
            return None
        result |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return result
    return None
