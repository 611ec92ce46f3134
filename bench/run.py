"""`python -m bench` (or `python bench/run.py`): run the benchmarks, write JSON, table, plots.

    python -m bench                 # everything, ≥5 interleaved runs per contender (~10 min)
    python -m bench --quick         # smoke run: 3 runs, smaller files
    python -m bench --only prefetch --only resume
    python -m bench --list

Results: bench/results/latest.json and the table between the markers in docs/benchmarks.md
(plus the PNG plots next to it). A partial run merges into the previous results. The exit code
is 1 when a benchmark could not be measured (a missed target is a result, not an error).
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import report  # noqa: E402
from bench.harness import BENCHMARKS, MIN_REPEATS, REPO_ROOT, Context  # noqa: E402
from bench.machine import load, machine_info  # noqa: E402

DEFAULT_JSON = REPO_ROOT / "bench" / "results" / "latest.json"
DEFAULT_DOCS = REPO_ROOT / "docs" / "benchmarks.md"
QUICK_REPEATS = 3


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller files")
    parser.add_argument(
        "--only", action="append", default=[], metavar="NAME", help="run only NAME (repeatable)"
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--repeats", type=int, default=None, help="runs per contender")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="results file")
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS, help="Markdown to update")
    parser.add_argument("--no-docs", action="store_true", help="write the JSON only")
    parser.add_argument("--no-merge", action="store_true", help="do not keep earlier results")
    parser.add_argument("--work-dir", type=Path, default=None, help="scratch folder (kept)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    return parser.parse_args(argv)


def select(names: list[str]) -> list[str]:
    import bench.suites  # noqa: F401 - registers every benchmark

    if not names:
        chosen = [b.name for b in BENCHMARKS.values() if not b.hidden]
    else:
        wanted = [n for item in names for n in item.split(",") if n]
        unknown = [n for n in wanted if n not in BENCHMARKS]
        if unknown:
            known = ", ".join(sorted(BENCHMARKS))
            raise SystemExit(f"unknown benchmark {', '.join(unknown)}; known: {known}")
        chosen = wanted
    return sorted(chosen, key=lambda n: BENCHMARKS[n].order)


def run_one(ctx: Context, name: str, command: str, run: str) -> dict[str, Any]:
    bench = BENCHMARKS[name]
    ctx.log(f"== {name}: {bench.title}")
    entry: dict[str, Any] = {
        "title": bench.title,
        "order": bench.order,
        "hidden": bench.hidden,
        "run": run,  # the date of the run it came from (partial runs merge)
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": command,
        "quick": ctx.quick,
        "repeats": ctx.repeats,
        "load_before": load(),
    }
    started = time.perf_counter()
    try:
        figures = bench.func(ctx)
        entry.update(status="ok", figures=[f.to_json() for f in figures])
        for figure in figures:
            verdict = {True: "pass", False: "MISS", None: "-"}[figure.passed]
            ratio = f"{figure.ratio:.2f}x" if figure.ratio is not None else "-"
            ctx.log(
                f"   {figure.label}: {figure.ours_stats.median:.4g} {figure.unit}"
                f" ratio {ratio} [{verdict}]"
            )
    except Exception as exc:  # one benchmark failing must not lose the others
        traceback.print_exc(file=sys.stderr)
        entry.update(status="error", error=f"{type(exc).__name__}: {exc}", figures=[])
        ctx.log(f"   {name} failed: {type(exc).__name__}: {exc}")
    entry["seconds"] = round(time.perf_counter() - started, 1)
    entry["load_after"] = load()
    return entry


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    names = select(args.only)
    if args.list:
        for name in sorted(BENCHMARKS, key=lambda n: BENCHMARKS[n].order):
            hidden = " (hidden: --only)" if BENCHMARKS[name].hidden else ""
            print(f"{name:12} {BENCHMARKS[name].title}{hidden}")
        return 0
    repeats = args.repeats or (QUICK_REPEATS if args.quick else MIN_REPEATS)
    command = "python -m bench" + (
        " " + shlex.join(argv if argv is not None else sys.argv[1:])
        if (argv if argv is not None else sys.argv[1:])
        else ""
    )
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="robo-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    ctx = Context(repeats=repeats, quick=args.quick, work=work, verbose=not args.quiet)
    started = time.perf_counter()
    date = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    benchmarks: dict[str, Any] = {}
    try:
        for name in names:
            benchmarks[name] = run_one(ctx, name, command, date)
    finally:
        ctx.close()
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    document = {
        "schema": report.SCHEMA,
        "date": date,
        "command": command,
        "quick": args.quick,
        "repeats": repeats,
        "duration_s": round(time.perf_counter() - started, 1),
        "machine": machine_info(),
        "benchmarks": benchmarks,
    }
    if not args.no_merge:
        document = report.merge(report.load(args.json), document)
    report.write_json(args.json, document)
    ctx.log(f"wrote {args.json}")
    if not args.no_docs:
        plots = report.write_plots(args.docs.parent, document)
        report.write_markdown(args.docs, document, plots)
        ctx.log(f"wrote {args.docs}" + (f" and {', '.join(plots)}" if plots else ""))
    failed = [n for n, e in benchmarks.items() if e["status"] != "ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
