"""Ask the fastembed installed in the backend's venv how it describes models and where it looks.

The answer (the hub repo id as that fastembed spells it, model and additional files, the cache
folder it opens) is read from fastembed's source (`static.py`) or, when that is not sure, asked
of the venv's python once (`ask.py`). It is remembered in the state folder, keyed on the
installed fastembed, the dependency stamp and the names asked for.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger

from launcher import proc
from launcher.fastembed.static import read_source_answer
from launcher.faststart import fast_start
from launcher.fileops import atomic_write_text, read_state_json
from launcher.models.registry import ModelSpec, described_spec

ANSWER_FILE = "fastembed-probe.json"
ANSWER_SCHEMA = 1
PROBE_TIMEOUT = 120.0

# Run by the backend venv's python (any Python 3.8+, any fastembed 0.5+): prints one JSON line.
ASK_SCRIPT = Path(__file__).with_name("ask.py")


@dataclass(frozen=True)
class Described:
    """One model as the backend's fastembed describes it (`repo` exactly as it spells it)."""

    model: str
    repo: str
    model_file: str
    additional_files: tuple[str, ...] = ()
    size_in_gb: float = 0.0


@dataclass
class FastembedAnswer:
    """What the venv's fastembed said: its version (None: not installed), the cache folder it
    opens (None: unknown), and the models it describes (keyed by lower-cased name)."""

    version: str | None
    cache_dir: Path | None = None
    models: dict[str, Described] = field(default_factory=dict)
    cached: bool = False
    follows_env: bool = True  # it opened the FASTEMBED_CACHE_PATH it was given
    how: str = "asked"  # or "read from its source" (not kept in the remembered file)

    def describe(self, name: str) -> Described | None:
        return self.models.get(name.strip().lower())

    def to_json(self) -> dict[str, Any]:
        return {
            "fastembed": self.version,
            "cache_dir": None if self.cache_dir is None else str(self.cache_dir),
            "follows_env": self.follows_env,
            "models": {
                key: {
                    "model": d.model,
                    "repo": d.repo,
                    "model_file": d.model_file,
                    "additional_files": list(d.additional_files),
                    "size_in_gb": d.size_in_gb,
                }
                for key, d in self.models.items()
            },
        }


def _answer_from_json(data: Mapping[str, Any]) -> FastembedAnswer:
    models: dict[str, Described] = {}
    for key, item in (data.get("models") or {}).items():
        if not isinstance(item, dict) or not item.get("repo") or not item.get("model_file"):
            continue  # no Hugging Face source: not something prefetch can lay out
        models[str(key).lower()] = Described(
            model=str(item["model"]),
            repo=str(item["repo"]),
            model_file=str(item["model_file"]),
            additional_files=tuple(str(f) for f in item.get("additional_files") or ()),
            size_in_gb=float(item.get("size_in_gb") or 0.0),
        )
    cache = data.get("cache_dir")
    answer = FastembedAnswer(data.get("fastembed"), Path(cache) if cache else None, models)
    answer.follows_env = bool(data.get("follows_env", True))
    return answer


def installed_fastembed(venv: Path) -> Path | None:
    """The venv's fastembed dist-info folder (None when fastembed is not installed there)."""
    for pattern in (
        "lib/python*/site-packages/fastembed-*.dist-info",
        "Lib/site-packages/fastembed-*.dist-info",
    ):
        for found in venv.glob(pattern):
            return found
    return None


def _remembered(
    venv: Path, state_dir: Path, names: Sequence[str]
) -> tuple[dict[str, Any] | None, FastembedAnswer | None]:
    """The key of the answer for `names` (None: no fastembed in the venv), and the answer an
    earlier run remembered under that key (None: none that still holds). The key is the
    installed fastembed (its dist-info), the dependency stamp and the names asked for."""
    dist = installed_fastembed(venv)
    try:
        mtime = None if dist is None else dist.stat().st_mtime_ns
    except OSError:
        mtime = None
    if dist is None or mtime is None:
        return None, None
    from launcher.deps.stamp import read_stamp  # only with fastembed installed (deps is ~50 ms)

    key = {
        "dist": dist.name,
        "dist_mtime_ns": mtime,
        "deps_stamp": read_stamp(state_dir),
        "names": sorted({n.strip().lower() for n in names}),
    }
    data = read_state_json(state_dir / ANSWER_FILE)  # untrusted: anything but ours is None
    if not isinstance(data, dict) or data.get("schema") != ANSWER_SCHEMA or data.get("key") != key:
        return key, None
    try:
        answer = _answer_from_json(data.get("answer") or {})
    except (AttributeError, KeyError, TypeError, ValueError):  # not an answer we wrote
        return key, None
    answer.cached = True
    return key, answer


def probe_fastembed(
    venv: Path,
    python: Path,
    names: Sequence[str],
    *,
    cache: Path,
    state_dir: Path,
    env: Mapping[str, str] | None = None,
) -> FastembedAnswer:
    """How the venv's fastembed describes `names`, from the remembered answer when still valid.

    Without fastembed: `version=None`, no process (prefetch uses the built-in registry). A
    failed probe is logged and answers the same way. ROBO_BACKEND_FAST_START=0 in `env` skips
    the remembered answer and the source: the venv's python is asked.
    """
    key, remembered = _remembered(venv, state_dir, names)
    if key is None:
        return FastembedAnswer(None)
    fast = fast_start(os.environ if env is None else env)  # off: ask, as after an install
    if remembered is not None and fast:
        return remembered
    answer = read_from_source(venv, names, cache=cache) if fast else None
    if answer is None:
        answer = ask_fastembed(venv, python, names, cache=cache, env=env)
    if answer is None:
        return FastembedAnswer(None)
    logger.debug(f"fastembed {answer.version or '(none)'} in {venv}: {answer.how}")
    _remember(state_dir, key, answer)  # a fastembed that does not import is remembered too
    return answer


def read_from_source(venv: Path, names: Sequence[str], *, cache: Path) -> FastembedAnswer | None:
    """The answer, read from the venv's fastembed source without importing it (None: not sure,
    ask). It follows FASTEMBED_CACHE_PATH (only then is there an answer), so it opens `cache`."""
    dist = installed_fastembed(venv)
    data = None if dist is None else read_source_answer(dist, names, cache)
    if data is None:
        return None
    answer = _answer_from_json(data)
    answer.follows_env = answer.cache_dir == cache
    answer.how = "read from its source"
    return answer


def ask_fastembed(
    venv: Path,
    python: Path,
    names: Sequence[str],
    *,
    cache: Path,
    env: Mapping[str, str] | None = None,
) -> FastembedAnswer | None:
    """The answer of the venv's python running `ask.py` (it imports fastembed) with
    FASTEMBED_CACHE_PATH=`cache`; None (logged) when it gives none."""
    environ = dict(os.environ if env is None else env)
    environ.update({"FASTEMBED_CACHE_PATH": str(cache), "HF_HUB_OFFLINE": "1"})
    # run_path, not the script path itself: Python < 3.11 would put launcher/ first on sys.path
    # (its platform.py would shadow the standard library's); the venv folder holds no modules.
    run = f"import runpy; runpy.run_path({str(ASK_SCRIPT)!r}, run_name='__main__')"
    argv = [str(python), "-I", "-c", run, *names]
    result = proc.run(argv, env=environ, cwd=venv, timeout=PROBE_TIMEOUT)
    data = _parse(result)
    if data is None:
        logger.warning(
            "could not ask the backend's fastembed how it names models "
            f"({result.tail(2) or 'no answer'}); using the built-in model table"
        )
        return None
    answer = _answer_from_json(data)
    answer.follows_env = answer.cache_dir is None or answer.cache_dir == cache
    return answer


def _parse(result: proc.Result) -> dict[str, Any] | None:
    if not result.ok:
        return None
    for line in reversed(result.stdout.splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict):
            if data.get("error"):
                logger.debug(f"the backend's fastembed did not import: {data['error']}")
            return data
    return None


def _remember(state_dir: Path, key: dict[str, Any], answer: FastembedAnswer) -> None:
    document = {"schema": ANSWER_SCHEMA, "key": key, "answer": answer.to_json()}
    try:
        atomic_write_text(state_dir / ANSWER_FILE, json.dumps(document, indent=2) + "\n")
    except OSError as exc:
        logger.debug(f"could not remember the fastembed answer: {exc}")


def described_specs(answer: FastembedAnswer, names: Sequence[str]) -> dict[str, ModelSpec]:
    """The answer as prefetch specs for `names` (those the venv's fastembed describes)."""
    specs: dict[str, ModelSpec] = {}
    for name in names:
        found = answer.describe(name)
        if found is not None:
            specs[found.model.lower()] = described_spec(
                found.model, found.repo, found.model_file, found.size_in_gb, found.additional_files
            )
    return specs


def describe_models(
    venv: Path,
    python: Path,
    names: Sequence[str | None],
    *,
    cache: Path,
    state_dir: Path,
    env: Mapping[str, str] | None = None,
) -> dict[str, ModelSpec]:
    """Specs for `names` as the venv's fastembed spells them ({} without fastembed there).

    Logs (at debug level, shown by `-v`) which fastembed answered and how it names each model,
    and warns when that fastembed would open another cache folder than `cache`.
    """
    wanted = [name for name in names if name and name.strip()]
    answer = probe_fastembed(venv, python, wanted, cache=cache, state_dir=state_dir, env=env)
    if answer.version is None:
        logger.debug("no fastembed in the venv yet: models laid out as the built-in table says")
        return {}
    specs = described_specs(answer, wanted)
    how = "remembered" if answer.cached else answer.how
    for spec in specs.values():
        logger.debug(f"fastembed {answer.version} ({how}) names {spec.name} {spec.repo}")
    if not answer.follows_env:
        logger.warning(
            f"the venv's fastembed {answer.version} opens {answer.cache_dir}, not {cache} (it "
            "ignores FASTEMBED_CACHE_PATH): the model is prefetched there"
        )
    return specs


def remembered_specs(
    venv: Path, state_dir: Path, names: Sequence[str | None]
) -> dict[str, ModelSpec]:
    """The specs a warm `up` would use, from the remembered answer only (never a process):
    for `doctor`, which must not import the backend's fastembed. {} when nothing valid is kept."""
    wanted = [name for name in names if name and name.strip()]
    _, answer = _remembered(venv, state_dir, wanted)
    return described_specs(answer, wanted) if answer is not None else {}


def ignored_cache_dir(venv: Path, state_dir: Path, names: Sequence[str | None]) -> Path | None:
    """The folder the venv's fastembed opens when it does not follow the FASTEMBED_CACHE_PATH
    it is given (none does today; a future one might): prefetch must go there. Else None."""
    _, answer = _remembered(venv, state_dir, [name for name in names if name and name.strip()])
    if answer is None or answer.follows_env:
        return None
    return answer.cache_dir
