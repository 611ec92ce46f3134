"""An install that failed for lack of wheels: which package, and which Python has wheels for it.

The package is read from what uv or pip said (`_PATTERNS`); whether another Python has wheels is
asked from uv: a resolution of that one pin with `--only-binary`, which installs nothing.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from launcher import proc

CHECK_TIMEOUT = 60.0
_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_BUILD = "building it from source failed"
_NO_WHEEL = "it cannot be built from source here"
_PATTERNS = (
    (re.compile(rf"failed to build `({_NAME})==([^`\s]+)`", re.I), _BUILD),
    (re.compile(rf"because ({_NAME})==(\S+) has no (?:usable )?wheels", re.I), _NO_WHEEL),
    (re.compile(rf"distribution `({_NAME})==(\S+) @ [^`]*` can't be installed", re.I), _NO_WHEEL),
    (re.compile(rf"failed building wheel for ({_NAME})()", re.I), _BUILD),
    (re.compile(rf"could not build wheels for ({_NAME})()", re.I), _BUILD),
)
_TAGS = re.compile(r"following python abi tags: ((?:`[^`]+`(?:, )?)+)", re.I)


@dataclass(frozen=True)
class MissingWheel:
    """The package an install failed on for want of a wheel, and why, as the installer said."""

    package: str
    version: str
    why: str
    tags: tuple[str, ...] = ()  # the CPython ABI tags uv found wheels for (cp39, cp310, …)

    @property
    def pin(self) -> str:
        return f"{self.package}=={self.version}" if self.version else self.package

    def minors_with_wheels(self) -> list[str]:
        """The Python versions ("3.10") the tags say have wheels ([] when uv named none)."""
        found = []
        for tag in self.tags:
            match = re.fullmatch(r"cp3(\d+)", tag)
            if match:
                found.append(f"3.{int(match.group(1))}")
        return found


def missing_wheel(output: str) -> MissingWheel | None:
    """The package an installer's output says it had no wheel for (None: another failure)."""
    for pattern, why in _PATTERNS:
        match = pattern.search(output)
        if match:
            tags = _TAGS.search(output)
            listed = tuple(re.findall(r"`([^`]+)`", tags.group(1))) if tags else ()
            return MissingWheel(match.group(1), match.group(2), why, listed)
    return None


def has_wheels(
    missing: MissingWheel,
    uv: str | None,
    env: Mapping[str, str],
    cwd: Path,
    *,
    python: str | None = None,
    version: str | None = None,
) -> bool | None:
    """Does `missing`'s pin have a wheel for the interpreter `python`, or with `version`, for
    that Python version on `python`'s platform? None when uv cannot tell (no uv, no version,
    no index). Naming an interpreter spares uv its search of every Python on PATH."""
    if uv is None or not missing.version:
        return None
    target = ["--python", python] if python else []
    target += ["--python-version", version] if version else []
    with tempfile.TemporaryDirectory(prefix="robo-wheels-") as folder:
        request = Path(folder, "requirements.in")
        request.write_text(missing.pin + "\n", encoding="utf-8")
        argv = [uv, "pip", "compile", str(request), *target, "--no-deps", "--quiet"]
        argv += ["--no-header", "--only-binary", missing.package, "--no-python-downloads"]
        done = proc.run(argv, env=env, cwd=cwd, timeout=CHECK_TIMEOUT)
    if done.ok:
        return True
    said = done.tail(20).lower()
    if "no usable wheels" in said or "no wheels with a matching" in said:
        return False
    return None
