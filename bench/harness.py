"""The harness: figures with their yardsticks, statistics, targets, the registry, the context.

Every figure is ours against a yardstick measured in the same run, each the median of at least
`repeats` samples (min and max kept), and the runs of ours and of the yardsticks are
interleaved (ours, yardstick A, yardstick B, ours, ...) so that a burst of load from another
process on this shared machine hits every contender alike instead of one of them.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
MIN_REPEATS = 5


class BenchError(RuntimeError):
    """A benchmark could not be measured (a tool failed, timed out, or is missing)."""


@dataclass(frozen=True)
class Stats:
    """Median, min, max and count of a list of samples."""

    median: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, samples: list[float]) -> Stats:
        if not samples:
            raise BenchError("no samples")
        return cls(statistics.median(samples), min(samples), max(samples), len(samples))

    def to_json(self) -> dict[str, float | int]:
        return {"median": self.median, "min": self.min, "max": self.max, "n": self.n}


@dataclass(frozen=True)
class Target:
    """What a figure must reach.

    `on` is "ratio" (ours' median ÷ the baseline yardstick's median) or "value" (ours' median
    in the figure's unit); `op` is "<=", "<" or ">="; `text` is how the issue words it.
    """

    on: str
    op: str
    bound: float
    text: str

    def check(self, ratio: float | None, value: float) -> bool | None:
        subject = ratio if self.on == "ratio" else value
        if subject is None:
            return None
        if self.op == "<=":
            return subject <= self.bound
        if self.op == "<":
            return subject < self.bound
        if self.op == ">=":
            return subject >= self.bound
        raise ValueError(f"unknown operator {self.op!r}")

    def to_json(self) -> dict[str, Any]:
        return {"on": self.on, "op": self.op, "bound": self.bound, "text": self.text}


@dataclass
class Figure:
    """One row of the results table: ours and its yardsticks, in one unit.

    `baseline` names the yardstick the ratio is taken against (default: the first one).
    `higher_is_better` only changes how the table words the ratio (throughput vs time).
    `details` holds anything else worth keeping in the JSON (e.g. per-run extra numbers).
    """

    name: str
    label: str
    unit: str
    ours: list[float]
    yardsticks: dict[str, list[float]] = field(default_factory=dict)
    baseline: str | None = None
    target: Target | None = None
    higher_is_better: bool = False
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def baseline_name(self) -> str | None:
        if self.baseline is not None:
            return self.baseline
        return next(iter(self.yardsticks), None)

    @property
    def ours_stats(self) -> Stats:
        return Stats.of(self.ours)

    def yardstick_stats(self) -> dict[str, Stats]:
        return {name: Stats.of(samples) for name, samples in self.yardsticks.items() if samples}

    @property
    def ratio(self) -> float | None:
        name = self.baseline_name
        if name is None or not self.yardsticks.get(name):
            return None
        base = Stats.of(self.yardsticks[name]).median
        if base == 0:
            return None
        return self.ours_stats.median / base

    def ratios(self) -> dict[str, float | None]:
        """Ours ÷ every yardstick (the table shows the baseline's; the JSON keeps all)."""
        ours = self.ours_stats.median
        return {
            name: (ours / stats.median if stats.median else None)
            for name, stats in self.yardstick_stats().items()
        }

    @property
    def passed(self) -> bool | None:
        if self.target is None:
            return None
        return self.target.check(self.ratio, self.ours_stats.median)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "unit": self.unit,
            "ours": {**self.ours_stats.to_json(), "samples": self.ours},
            "yardsticks": {
                name: {**Stats.of(samples).to_json(), "samples": samples}
                for name, samples in self.yardsticks.items()
                if samples
            },
            "yardstick_medians": {n: s.median for n, s in self.yardstick_stats().items()},
            "baseline": self.baseline_name,
            "ratio": self.ratio,
            "ratios": self.ratios(),
            "target": self.target.to_json() if self.target else None,
            "pass": self.passed,
            "higher_is_better": self.higher_is_better,
            "note": self.note,
            "details": self.details,
        }


BenchFunc = Callable[["Context"], list[Figure]]


@dataclass(frozen=True)
class Benchmark:
    """A named group of figures; `hidden` ones (the self-test) run only with --only."""

    name: str
    title: str
    func: BenchFunc
    order: int
    hidden: bool = False


BENCHMARKS: dict[str, Benchmark] = {}


def benchmark(
    name: str, title: str, *, order: int, hidden: bool = False
) -> Callable[[BenchFunc], BenchFunc]:
    """Register a benchmark function under `name` (what `--only NAME` selects)."""

    def register(func: BenchFunc) -> BenchFunc:
        BENCHMARKS[name] = Benchmark(name, title, func, order, hidden)
        return func

    return register


class Context:
    """What every benchmark gets: repeat count, a scratch folder, shared lazy resources.

    Resources (a hub process, a warm project with its venv...) are built on first use by
    `shared(key, factory)` and torn down at the end of the run through `stack`, so
    `--only NAME` builds only what NAME needs.
    """

    def __init__(self, *, repeats: int, quick: bool, work: Path, verbose: bool = True) -> None:
        self.repeats = repeats
        self.quick = quick
        self.work = work
        self.verbose = verbose
        self.stack = contextlib.ExitStack()
        self._shared: dict[str, Any] = {}
        self.python = Path(sys.executable)
        self.bin_dir = self.python.parent

    def log(self, message: str) -> None:
        if self.verbose:
            stamp = time.strftime("%H:%M:%S")
            print(f"[bench {stamp}] {message}", file=sys.stderr, flush=True)

    def shared(self, key: str, factory: Callable[[Context], Any]) -> Any:
        if key not in self._shared:
            self._shared[key] = factory(self)
        return self._shared[key]

    def scratch(self, name: str) -> Path:
        """A fresh folder under the work dir (unique per call)."""
        counter = self._shared.setdefault("_scratch_counter", [0])
        counter[0] += 1
        path = self.work / f"{name}-{counter[0]}"
        path.mkdir(parents=True)
        return path

    def tool(self, name: str) -> str:
        """An executable from the dev venv's bin folder, else from PATH."""
        import shutil

        local = self.bin_dir / name
        if local.is_file() and os.access(local, os.X_OK):
            return str(local)
        found = shutil.which(name)
        if found is None:
            raise BenchError(f"{name} is not installed (needed as a yardstick)")
        return found

    def interleave(
        self,
        runners: dict[str, Callable[[], float]],
        *,
        repeats: int | None = None,
        warmup: int = 1,
    ) -> dict[str, list[float]]:
        """Run every contender `repeats` times, round-robin, after `warmup` discarded rounds.

        The starting contender rotates each round so none is always first after a pause.
        """
        count = repeats if repeats is not None else self.repeats
        names = list(runners)
        samples: dict[str, list[float]] = {name: [] for name in names}
        for round_index in range(warmup + count):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                value = runners[name]()
                if round_index >= warmup:
                    samples[name].append(value)
        return samples

    def close(self) -> None:
        self.stack.close()


@contextlib.contextmanager
def elapsed() -> Iterator[list[float]]:
    """`with elapsed() as t: ...` then `t[0]` is the wall time in seconds."""
    box: list[float] = []
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - start)
