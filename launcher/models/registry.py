"""Model names → hub repositories and files, and the defaults of the model step.

The two default models are in a built-in table, so a warm start never imports fastembed; any
other name is looked up in fastembed's own list, lazily.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

from launcher.errors import UsageError

DEFAULT_MODEL = "BAAI/bge-small-en-v1.5"
DEFAULT_FALLBACK_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_ENDPOINT = "https://huggingface.co"
DEFAULT_RETRIES = 3
DEFAULT_RETRY_DELAY = 10.0  # seconds between download attempts
DEFAULT_STALL_TIMEOUT = 30.0  # seconds without a byte before an attempt is ended
DEFAULT_MODEL_BUDGET = 40.0  # seconds the whole model step may go without a byte

# The files fastembed's `download_files_from_huggingface` allows next to the model file
# (`preprocessor_config.json` is for image models only). Those present in the repo are fetched.
TOKENIZER_FILES: tuple[str, ...] = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)


@dataclass(frozen=True)
class ModelSpec:
    """One embedding model: where it lives on the hub and which of its files we need.

    `files` starts with `model_file` and the model's own additional files (all required),
    followed by the tokenizer files, which are fetched when the repo has them.
    `size_hint` is fastembed's advertised size in bytes (used before the hub answers).
    `label` is how log lines name the model ("BGE model" for the BGE family).
    `exact_case` is True when `repo` is spelled as the backend's own fastembed spells it: the
    folder must then carry exactly that name (on a case-sensitive disk another casing is
    another folder, which that fastembed never opens).
    """

    name: str
    repo: str
    model_file: str
    files: tuple[str, ...]
    size_hint: int
    label: str
    required: tuple[str, ...] = ()
    exact_case: bool = False

    def is_required(self, path: str) -> bool:
        return path == self.model_file or path in self.required


def _label(name: str) -> str:
    return "BGE model" if "bge" in name.lower() else name


def _spec(
    name: str, repo: str, model_file: str, size_gb: float, additional: tuple[str, ...] = ()
) -> ModelSpec:
    files = (model_file, *additional, *(f for f in TOKENIZER_FILES if f not in additional))
    return ModelSpec(
        name=name,
        repo=repo,
        model_file=model_file,
        files=files,
        size_hint=int(size_gb * 1_000_000_000),
        label=_label(name),
        required=(model_file, *additional),
    )


BUILTIN: dict[str, ModelSpec] = {
    spec.name.lower(): spec
    for spec in (
        _spec(
            "BAAI/bge-small-en-v1.5",
            "Qdrant/bge-small-en-v1.5-onnx-Q",
            "model_optimized.onnx",
            0.067,
        ),
        _spec(
            "sentence-transformers/all-MiniLM-L6-v2",
            "Qdrant/all-MiniLM-L6-v2-onnx",
            "model.onnx",
            0.09,
        ),
    )
}


def described_spec(
    name: str, repo: str, model_file: str, size_gb: float, additional: tuple[str, ...] = ()
) -> ModelSpec:
    """A spec as the backend's fastembed describes the model: its repo spelling is the folder's."""
    return replace(_spec(name, repo, model_file, size_gb, additional), exact_case=True)


_DESCRIBED: contextvars.ContextVar[Mapping[str, ModelSpec] | None] = contextvars.ContextVar(
    "described_models", default=None
)


@contextlib.contextmanager
def described(specs: Mapping[str, ModelSpec]) -> Iterator[None]:
    """Within the block, `lookup` answers with `specs` first (keyed by name, any casing): the
    descriptions of the fastembed that will load the model, so a renamed repo needs no code."""
    token = _DESCRIBED.set({key.lower(): spec for key, spec in specs.items()})
    try:
        yield
    finally:
        _DESCRIBED.reset(token)


def _fastembed_specs() -> dict[str, ModelSpec]:
    """fastembed's text models that have a Hugging Face source (imported only when needed)."""
    try:
        from fastembed import TextEmbedding
    except Exception:  # fastembed missing or broken: only the built-in table is known
        return {}
    specs: dict[str, ModelSpec] = {}
    for description in TextEmbedding._list_supported_models():
        repo = getattr(description.sources, "hf", None)
        if not repo:
            continue
        specs[description.model.lower()] = _spec(
            description.model,
            repo,
            description.model_file,
            float(description.size_in_GB or 0.0),
            tuple(description.additional_files or ()),
        )
    return specs


def lookup(name: str) -> ModelSpec:
    """The spec of `name` (case-insensitive); unknown → UsageError (exit 2) naming known models."""
    key = name.strip().lower()
    described_here = (_DESCRIBED.get() or {}).get(key)
    if described_here is not None:
        return described_here
    if key in BUILTIN:
        return BUILTIN[key]
    specs = _fastembed_specs()
    if key in specs:
        return specs[key]
    builtin = [spec.name for spec in BUILTIN.values()]
    others = sorted({spec.name for spec in specs.values()} - set(builtin))
    shown = builtin + others[:6]
    more = len(builtin) + len(others) - len(shown)
    raise UsageError(
        f"unknown embedding model {name!r}",
        "Use a model fastembed supports: "
        + ", ".join(shown)
        + (f" and {more} more (fastembed's TextEmbedding.list_supported_models())" if more else "")
        + ".",
    )


def known_models() -> list[str]:
    """Every model name `lookup` accepts (imports fastembed)."""
    return sorted({spec.name for spec in (*BUILTIN.values(), *_fastembed_specs().values())})
