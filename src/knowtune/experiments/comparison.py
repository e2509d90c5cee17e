"""The comparison of several runs as data: each run's metric, the ranking, the best run, the criteria
and the config keys that differ. `knowtune compare` writes it as markdown, HTML and JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

from knowtune.experiments.rundata import RunData
from knowtune.train import criteria as crit

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


def verdict(summary: dict) -> str:
    if summary["best"] is None:
        return f"No run has the metric {summary['metric'] or '(none chosen)'}."
    direction = "lower" if summary["lower_is_better"] else "higher"
    line = f"Best by {summary['metric']} ({direction} is better): **{summary['best']}** ({fmt(summary['best_value'])})"
    if summary["criteria"]:
        met = summary["best_meets_criteria"]
        line += f"; {'meets' if met else 'does not meet'} the criteria {', '.join(summary['criteria'])}"
    return line + "."
