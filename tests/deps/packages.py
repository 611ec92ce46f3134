"""Real distributions built on the spot for the dependency tests: a wheel with the tag and the
requirements a test needs, and a source distribution whose build fails at once (the way a
scipy without a Fortran compiler fails, without waiting for one). Serve the folder with
UV_FIND_LINKS."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path


def wheel(
    folder: Path, name: str, version: str, *, requires: tuple[str, ...] = (), tag: str = ""
) -> Path:
    """A wheel of `name` (an empty module) for `tag` (default py3-none-any)."""
    tag = tag or "py3-none-any"
    info = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{name}/__init__.py": f'__version__ = "{version}"\n',
        f"{info}/METADATA": metadata,
        f"{info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: robo-backend-tests\n"
            f"Root-Is-Purelib: {'true' if tag.endswith('-any') else 'false'}\nTag: {tag}\n"
        ),
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    path = folder / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in files.items():
            archive.writestr(member, text)
    return path


def failing_sdist(folder: Path, name: str, version: str) -> Path:
    """An sdist whose in-tree build backend fails as a C extension without a compiler does."""
    root = f"{name}-{version}"
    files = {
        "pyproject.toml": (
            '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n\n'
            f'[project]\nname = "{name}"\nversion = "{version}"\n'
        ),
        "backend.py": (
            "def build_wheel(*args, **kwargs):\n"
            "    raise SystemExit(\"error: command 'gcc' failed: No such file or directory\")\n"
            "\n\nbuild_sdist = build_wheel\n"
        ),
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    }
    path = folder / f"{root}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for member, text in files.items():
            data = text.encode()
            entry = tarfile.TarInfo(f"{root}/{member}")
            entry.size = len(data)
            archive.addfile(entry, io.BytesIO(data))
    return path
