"""Results out: `bench/results/latest.json`, the table in docs/benchmarks.md, the PNG plots.

Everything here works from the JSON document, so a partial run (`--only NAME`) merges its
benchmarks into the previous results and the table and plots are redrawn from the whole.
The Markdown is written between two markers; the hand-written sections around them (how to
read the table, what we did about misses) are kept as they are.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

SCHEMA = 1
BEGIN = "<!-- bench:results:begin -->"
END = "<!-- bench:results:end -->"

PLOTS = {
    # file name → (title, y label, figure names in the order drawn)
    "bench-prefetch-throughput.png": (
        "Cold model prefetch from the loopback hub (higher is better)",
        "MB/s (median, whiskers min–max)",
        (
            "prefetch.throughput",
            "prefetch.throughput_throttled",
            "prefetch.throughput_throttled_100",
        ),
    ),
    "bench-up-ready.png": (
        "Warm start to a healthy /health (lower is better)",
        "seconds (median, whiskers min–max)",
        ("up.ready",),
    ),
}

TEMPLATE = f"""# Benchmarks

robo-backend side by side with what users would run instead. Regenerate with
`python -m bench` (about 10 minutes; `--quick` for a smoke run, `--only NAME` for one group).

## How to read this

(hand-written; kept when the results are regenerated)

{BEGIN}
{END}

## What we did about misses

(hand-written; kept when the results are regenerated)
"""


def load(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        return None
    return document


def merge(previous: dict[str, Any] | None, current: dict[str, Any]) -> dict[str, Any]:
    """The current run's benchmarks over the previous document's (partial runs keep the rest)."""
    if previous is None:
        return current
    merged = dict(current)
    benchmarks = dict(previous.get("benchmarks", {}))
    benchmarks.update(current.get("benchmarks", {}))
    merged["benchmarks"] = benchmarks
    return merged


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(temp, path)


# --------------------------------------------------------------------------- formatting


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if abs(value) < 1 else f"{value:.2f} s"
    if unit == "MB/s":
        return f"{value:.1f} MB/s" if abs(value) < 10 else f"{value:.0f} MB/s"
    if unit == "%":
        return f"{value:.1f} %"
    if unit == "MiB":
        return f"{value:.1f} MiB"
    if unit == "requests":
        return f"{value:.0f}"
    return f"{value:.3g} {unit}"


def fmt_stats(stats: dict[str, Any], unit: str) -> str:
    if stats["n"] == 1:
        return f"{fmt(stats['median'], unit)} (n=1)"
    low, high = fmt(stats["min"], unit), fmt(stats["max"], unit)
    return f"**{fmt(stats['median'], unit)}** ({low} – {high}, n={stats['n']})"


def fmt_ratio(figure: dict[str, Any]) -> str:
    ratio = figure.get("ratio")
    if ratio is None or figure.get("baseline") is None:
        return "–"
    return f"{ratio:.2f}× {figure['baseline']}"


def fmt_result(figure: dict[str, Any]) -> str:
    if figure.get("target") is None:
        return "(no target)"
    verdict = figure.get("pass")
    return "✅ pass" if verdict else ("❌ miss" if verdict is False else "?")


def table(document: dict[str, Any]) -> list[str]:
    lines = [
        "| benchmark | figure | ours: median (min – max, n) | yardsticks: median | ratio | target"
        " | result |",
        "|---|---|---|---|---|---|---|",
    ]
    notes: list[str] = []
    entries = sorted(document.get("benchmarks", {}).items(), key=lambda kv: kv[1].get("order", 99))
    if any(not entry.get("hidden") for _, entry in entries):  # the self-test only when alone
        entries = [(name, entry) for name, entry in entries if not entry.get("hidden")]
    for _, entry in entries:
        title = entry["title"]
        if entry.get("status") != "ok":
            error = " ".join(str(entry.get("error", "")).split())[:300]
            lines.append(f"| {title} | – | not measured: {error} | – | – | – | ⚠️ error |")
            continue
        for index, figure in enumerate(entry["figures"]):
            unit = figure["unit"]
            yard = "; ".join(
                f"{name} {fmt(stats['median'], unit)}"
                for name, stats in figure["yardsticks"].items()
            )
            target = figure["target"]["text"] if figure.get("target") else "–"
            lines.append(
                f"| {title if index == 0 else ''} | {figure['label']} "
                f"| {fmt_stats(figure['ours'], unit)} | {yard or '–'} | {fmt_ratio(figure)} "
                f"| {target} | {fmt_result(figure)} |"
            )
            if figure.get("note"):
                notes.append(f"- **{figure['label']}**: {figure['note']}")
    if notes:
        lines += ["", "Notes on the figures:", "", *notes]
    return lines


def results_block(document: dict[str, Any], plots: list[str]) -> str:
    machine = document["machine"]
    lines = [
        BEGIN,
        "<!-- generated by `python -m bench`: edits between these markers are overwritten -->",
        "",
        f"- **Machine:** {machine['cpu']}, {machine['cores_logical']} logical cores"
        f" ({machine['cores_physical']} physical), {machine['ram_gib']} GiB RAM;"
        f" {machine['os']}; Python {machine['python']}",
        f"- **Command:** `{document['command']}`",
        f"- **Date:** {document['date']} (took {document['duration_s'] / 60:.1f} min)",
    ]
    loads = []
    for name, entry in document.get("benchmarks", {}).items():
        if entry.get("load_before") is not None:
            loads.append(f"{name} {entry['load_before'][0]:.1f}")
    if loads:
        lines.append(
            "- **1-minute load average when each group started** "
            f"({machine['cores_logical']} cores): " + ", ".join(loads)
        )
    older = [
        f"{name} ({entry.get('date')})"
        for name, entry in document.get("benchmarks", {}).items()
        if entry.get("run") != document["date"]
    ]
    if older:
        lines.append("- From an earlier run (a partial run merges): " + ", ".join(older))
    if document.get("quick"):
        lines.append(
            "- **Quick smoke run** (`--quick`): fewer repeats, smaller files; not results."
        )
    lines += ["", *table(document), ""]
    for plot in plots:
        title = PLOTS[plot][0]
        lines += [f"![{title}]({plot})", ""]
    lines.append(END)
    return "\n".join(lines)


def write_markdown(path: Path, document: dict[str, Any], plots: list[str]) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        text = TEMPLATE
    if BEGIN not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(head + results_block(document, plots) + tail, encoding="utf-8")


# --------------------------------------------------------------------------- plots


def _figures_by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for entry in document.get("benchmarks", {}).values():
        if entry.get("status") == "ok":
            for figure in entry["figures"]:
                found[figure["name"]] = figure
    return found


def write_plots(folder: Path, document: dict[str, Any]) -> list[str]:
    """Draw the plots whose figures exist; returns the file names written (none without
    matplotlib, which is the optional `bench` extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    figures = _figures_by_name(document)
    written: list[str] = []
    colors = {"robo-backend": "#2b7bba"}
    palette = ["#e08a2c", "#5aa05a", "#a05ab4", "#888888", "#c44e52"]
    for filename, (title, ylabel, names) in PLOTS.items():
        chosen = [figures[n] for n in names if n in figures]
        if not chosen:
            continue
        fig, axes = plt.subplots(
            1, len(chosen), figsize=(4.6 * len(chosen), 4.0), dpi=110, squeeze=False
        )
        for axis, figure in zip(axes[0], chosen, strict=True):
            unit = figure["unit"]
            rows = [("robo-backend", figure["ours"]), *figure["yardsticks"].items()]
            for name, _ in rows:
                colors.setdefault(name, palette[(len(colors) - 1) % len(palette)])
            medians = [stats["median"] for _, stats in rows]
            bars = axis.bar(
                range(len(rows)),
                medians,
                yerr=[
                    [stats["median"] - stats["min"] for _, stats in rows],
                    [stats["max"] - stats["median"] for _, stats in rows],
                ],
                capsize=4,
                color=[colors[name] for name, _ in rows],
            )
            axis.bar_label(bars, labels=[fmt(m, unit) for m in medians], fontsize=8, padding=2)
            axis.set_xticks(range(len(rows)), [name for name, _ in rows], fontsize=8)
            axis.set_title(figure["label"], fontsize=9)
            axis.set_ylabel(ylabel, fontsize=8)
            axis.spines[["top", "right"]].set_visible(False)
            axis.margins(y=0.15)
        fig.suptitle(title, fontsize=10)
        fig.tight_layout()
        fig.savefig(folder / filename)
        plt.close(fig)
        written.append(filename)
    return written
