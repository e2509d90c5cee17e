"""`knowtune compare RUN_DIR...`: config differences, metrics, the best run and the criteria, as md + html.

Sweeps call `write_comparison` when they end. A directory without metrics is named and left out;
the other runs are still compared.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from knowtune.errors import UserError
from knowtune.train import criteria as crit
from knowtune.experiments.rundata import RunData, read_run
from knowtune.fileio import write_atomic, write_json

# Final metrics shown after the eval_* ones, in this order, when a run recorded them.
TRAINING_COLUMNS = ("train_loss", "train_runtime", "tokens_per_second", "heldout_accuracy")
NOT_A_DIFFERENCE = {"experiment_name"}  # the run's own name, already each column's title


def lower_is_better(metric: str) -> bool:
    return metric.endswith("loss") or "perplexity" in metric


def metric_value(final: dict, metric: str) -> float | None:
    """By exact name, else the one metric ending in `_<metric>` (f1 -> eval_heldout_f1), as criteria do."""
    return crit.Criterion(metric, ">=", 0.0).find(final)


def run_names(run_dirs: list[Path]) -> list[str]:
    names = [p.name for p in run_dirs]
    return [p.name if names.count(p.name) == 1 else str(p) for p in run_dirs]


def config_differences(runs: dict[str, RunData]) -> dict[str, dict[str, object]]:
    """The config keys whose values are not the same in every run, with each run's value (None = absent)."""
    keys = sorted({k for r in runs.values() for k in r.config} - NOT_A_DIFFERENCE)
    differing = {}
    for key in keys:
        values = {name: r.config.get(key) for name, r in runs.items()}
        if len({json.dumps(v, sort_keys=True, default=str) for v in values.values()}) > 1:
            differing[key] = values
    return differing


def metric_columns(runs: dict[str, RunData]) -> list[str]:
    found = {k for r in runs.values() for k in r.final}
    evals = sorted(k for k in found if k.startswith("eval_") and k != "eval_loss")
    return [k for k in ("eval_loss", *evals, *TRAINING_COLUMNS) if k in found]


def _default_metric(runs: dict[str, RunData], criteria: list[crit.Criterion]) -> str | None:
    if criteria:
        return criteria[0].metric
    for candidate in ("eval_loss", "train_loss"):
        if any(candidate in r.final for r in runs.values()):
            return candidate
    return None


def summarize(runs: dict[str, RunData], left_out: list[dict], metric: str | None, criteria: list[crit.Criterion],
              title: str) -> dict:
    metric = metric or _default_metric(runs, criteria)
    rows = []
    for name, r in runs.items():
        met, misses = crit.check(criteria, r.final) if criteria else (None, [])
        rows.append({"name": name, "path": str(r.path), "state": r.state.get("state", "unknown"),
                     "step": r.step, "total_steps": r.total_steps, "final": r.final,
                     "value": metric_value(r.final, metric) if metric else None,
                     "meets_criteria": met, "misses": misses})
    ranked = [row for row in rows if row["value"] is not None]
    ranked.sort(key=lambda row: row["value"], reverse=not (metric and lower_is_better(metric)))
    best = ranked[0] if ranked else None
    return {
        "title": title,
        "metric": metric,
        "lower_is_better": bool(metric and lower_is_better(metric)),
        "criteria": [str(c) for c in criteria],
        "runs": rows,
        "ranking": [row["name"] for row in ranked],
        "best": best["name"] if best else None,
        "best_value": best["value"] if best else None,
        "best_meets_criteria": best["meets_criteria"] if best else None,
        "left_out": left_out,
        "config_differences": config_differences(runs),
    }


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


def fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _cell(value) -> str:
    return fmt(value).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list]) -> list[str]:
    return ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(_cell(v) for v in row) + " |" for row in rows), ""]


def verdict(summary: dict) -> str:
    if summary["best"] is None:
        return f"No run has the metric {summary['metric'] or '(none chosen)'}."
    direction = "lower" if summary["lower_is_better"] else "higher"
    line = f"Best by {summary['metric']} ({direction} is better): **{summary['best']}** ({fmt(summary['best_value'])})"
    if summary["criteria"]:
        met = summary["best_meets_criteria"]
        line += f"; {'meets' if met else 'does not meet'} the criteria {', '.join(summary['criteria'])}"
    return line + "."


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
