"""`knowtune compare RUN_DIR...`: config differences, metrics, the best run and the criteria, as md + html.

Sweeps call `write_comparison` when they end. A directory without metrics is named and left out;
the other runs are still compared.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from knowtune.errors import UserError
from knowtune.experiments.comparison import fmt, metric_columns, run_names, summarize, verdict
from knowtune.experiments.rundata import RunData, read_run
from knowtune.fileio import write_atomic, write_json
from knowtune.train import criteria as crit

def write_comparison(run_dirs: list[Path], out_dir: Path, metric: str | None = None, criteria: list[str] = (),
                     title: str = "Comparison") -> dict:
    """Compare runs; write comparison.md, comparison.html and comparison.json to out_dir; return the summary.

    A directory without metrics is reported on stderr and in the summary's `left_out`; the others go on.
    """
    from knowtune.experiments.compare_html import render_html

    parsed = crit.parse_all(criteria)
    run_dirs = [Path(p) for p in run_dirs]
    runs, left_out = {}, []
    for name, path in zip(run_names(run_dirs), run_dirs):
        run = read_run(path) if path.is_dir() else None
        if run is None or not run.has_metrics:
            reason = ("not a directory" if run is None else
                      "no metrics (no training_metrics.json, eval/results.json, losses.npy, training.log steps "
                      "or checkpoint trainer_state.json)")
            print(f"knowtune compare: {path}: {reason}; left out", file=sys.stderr)
            left_out.append({"path": str(path), "reason": reason})
            continue
        runs[name] = run
    summary = summarize(runs, left_out, metric, parsed, title)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(out_dir / "comparison.md", render_markdown(summary, runs))
    write_atomic(out_dir / "comparison.html", render_html(summary, runs))
    write_json(out_dir / "comparison.json", summary)
    return summary


def _cell(value) -> str:
    return fmt(value).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list]) -> list[str]:
    return ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(_cell(v) for v in row) + " |" for row in rows), ""]


def render_markdown(summary: dict, runs: dict[str, RunData]) -> str:
    names = list(runs)
    lines = [f"# {summary['title']}", "", verdict(summary), ""]
    rows = [[r["name"], r["state"], r["step"], r["value"], r["meets_criteria"], "; ".join(r["misses"])]
            for r in summary["runs"]]
    lines += ["## Runs", "", *_table(["run", "state", "step", summary["metric"] or "metric", "meets criteria",
                                      "misses"], rows)]
    for item in summary["left_out"]:
        lines.append(f"- left out: {item['path']}: {item['reason']}")
    if summary["left_out"]:
        lines.append("")
    diffs = summary["config_differences"]
    lines += ["## Config differences", ""]
    lines += _table(["key", *names], [[k, *(v[n] for n in names)] for k, v in diffs.items()]) if diffs else \
        ["The configs are the same.", ""]
    columns = metric_columns(runs)
    lines += ["## Final metrics", "", *_table(["metric", *names], [[c, *(runs[n].final.get(c) for n in names)]
                                                                   for c in columns])]
    lines += ["## Metrics at each evaluation", ""]
    for name, run in runs.items():
        evals = run.evals()
        if evals:
            keys = [k for k in evals[-1] if k != "step"]
            lines += [f"### {name}", "", *_table(["step", *keys], [[e["step"], *(e.get(k) for k in keys)] for e in evals])]
    return "\n".join(lines)


def add_compare_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "compare", help="compare run directories: config differences, metrics, best run, criteria (md + html)",
        description="Compare runs side by side. Writes comparison.md, comparison.html (self-contained, with loss "
        "and metric curves) and comparison.json to --out.",
    )
    parser.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR", help="run directories to compare")
    parser.add_argument("--metric", help="rank by this metric, e.g. eval_loss or f1 (a unique suffix of a metric "
                        "name); *loss and perplexity: lower is better (default: the first criterion's, else eval_loss)")
    parser.add_argument("--criteria", nargs="+", default=[], metavar="METRIC>=VALUE",
                        help="success criteria such as f1>=0.85 recall>=0.8")
    parser.add_argument("--out", type=Path, default=Path("comparison"), help="output directory (default: comparison)")
    parser.add_argument("--title", default="Comparison", help="report title")
    parser.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    if not any(p.is_dir() and read_run(p).has_metrics for p in args.run_dirs):
        raise UserError("no run directory had metrics (training_metrics.json, eval/results.json, losses.npy, "
                        "training.log steps or a checkpoint): " + ", ".join(map(str, args.run_dirs)))
    summary = write_comparison(args.run_dirs, args.out, args.metric, args.criteria, args.title)
    print(verdict(summary).replace("**", ""))
    print(f"Report: {args.out / 'comparison.md'}, {args.out / 'comparison.html'}")
    return 0
