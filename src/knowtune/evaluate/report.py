"""What an evaluation leaves behind: results.json, report.md and TensorBoard scalars.

`results` is the dict that becomes results.json:
  models: label -> what was loaded (paths, sha256 of the weights)
  datasets: name -> path, sha256, metric, records, evaluated, problems (and `skipped` when none was usable)
  results: label ("model", "base" or "predictions") -> dataset -> metrics
  comparison (compare_base): dataset -> metric -> {base, model, change, verdict (gain, loss or same)}
  question_sets (compare_base): QA dataset -> accuracies with intervals, McNemar (knowtune.evaluate.evidence)
  lm_eval (lm_eval_tasks): label -> task -> metric -> value
See docs/evaluation.md for every field.
"""

from __future__ import annotations

from pathlib import Path

from knowtune.evaluate import evidence
from knowtune.fileio import write_json

HEADLINE = {
    "qa": ("exact_match", "f1", "contains"),
    "extraction": ("precision", "recall", "f1", "macro_f1"),
    "perplexity": ("perplexity",),
}
LOWER_IS_BETTER = {"perplexity"}
PROBLEMS_SHOWN = 5


def compare(results: dict, datasets: dict) -> dict:
    """Per dataset and headline metric: base and model values, the change, and whether the model gained."""
    comparison = {}
    for name, info in datasets.items():
        base, model = results["base"].get(name), results["model"].get(name)
        if base is None or model is None:
            continue
        rows = {}
        for metric in HEADLINE[info["metric"]]:
            if base[metric] is None or model[metric] is None:
                continue
            change = model[metric] - base[metric]
            improved = change < 0 if metric in LOWER_IS_BETTER else change > 0
            rows[metric] = {
                "base": base[metric],
                "model": model[metric],
                "change": change,
                "verdict": "same" if change == 0 else "gain" if improved else "loss",
            }
        comparison[name] = rows
    return comparison


def write_results(out_dir: Path, results: dict) -> None:
    write_json(out_dir / "results.json", results)


def write_tensorboard(out_dir: Path, results: dict, step: int = 0) -> None:
    """One TensorBoard run per model label, tags `<dataset>/<metric>`, so base and model overlay."""
    from torch.utils.tensorboard import SummaryWriter

    for label, per_dataset in results["results"].items():
        writer = SummaryWriter(log_dir=str(out_dir / "tensorboard" / label))
        for name, metrics in per_dataset.items():
            for metric, value in metrics.items():
                if isinstance(value, (int, float)) and metric not in ("n", "batch_size"):
                    writer.add_scalar(f"{name}/{metric}", value, step)
            for kind, counts in metrics.get("per_type", {}).items():
                writer.add_scalar(f"{name}/per_type/{kind}/f1", counts["f1"], step)
        writer.close()


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) >= 10 else f"{value:.3f}"
    return str(value)


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]


def render_report(results: dict, about: list[str]) -> str:
    """report.md: `about` lines, the before/after table, a table per metric family, problems."""
    lines = [f"# Evaluation: {results['title']}", "", *[f"- {line}" for line in about], ""]
    if results.get("comparison"):
        lines += ["## Before and after", "", "The base model and the evaluated model on the same data "
                  "(gain: better than the base; perplexity is better when lower).", ""]
        rows = [[name, metric, r["base"], r["model"], f"{r['change']:+.4g}", r["verdict"]]
                for name, metrics in results["comparison"].items() for metric, r in metrics.items()]
        lines += _table(["dataset", "metric", "base", "model", "change", "verdict"], rows) + [""]
    lines += evidence.render(results.get("question_sets"))
    for label, per_dataset in results["results"].items():
        lines += [f"## Results: {label}", ""]
        lines += _family_tables(per_dataset, results["datasets"])
        lines += _lm_eval_table(results.get("lm_eval", {}).get(label))
    lines += _problems(results)
    return "\n".join(lines) + "\n"


def _family_tables(per_dataset: dict, datasets: dict) -> list[str]:
    lines = []
    qa = [[n, m["n"], m["exact_match"], m["f1"], m["contains"], "-".join(f"{v:.3f}" for v in m.get("contains_ci", []))]
          for n, m in per_dataset.items() if datasets[n]["metric"] == "qa"]
    if qa:
        lines += _table(["QA dataset", "n", "exact_match", "f1", "contains", "contains 95% CI"], qa) + [""]
    ppl = [[n, m["n"], m["tokens"], m["windows"], m["perplexity"]]
           for n, m in per_dataset.items() if datasets[n]["metric"] == "perplexity"]
    if ppl:
        lines += _table(["text dataset", "texts", "tokens scored", "windows", "perplexity"], ppl) + [""]
    for n, m in per_dataset.items():
        if datasets[n]["metric"] != "extraction":
            continue
        lines += [f"Extraction `{n}`: {m['n']} records, {m['unparsable']} unparsable outputs (counted as misses).", ""]
        rows = [["micro", m["precision"], m["recall"], m["f1"], "", "", "", ""],
                ["macro", m["macro_precision"], m["macro_recall"], m["macro_f1"], "", "", "", ""]]
        rows += [[kind, c["precision"], c["recall"], c["f1"], c["tp"], c["fp"], c["fn"], c["support"]]
                 for kind, c in m["per_type"].items()]
        lines += _table(["type", "precision", "recall", "f1", "tp", "fp", "fn", "support"], rows) + [""]
    return lines


def _lm_eval_table(per_task: dict | None) -> list[str]:
    if not per_task:
        return []
    rows = [[task, m.get("n", ""), metric, value,
             f"{m[metric + '_ci'][0]:.3f}-{m[metric + '_ci'][1]:.3f}" if metric + "_ci" in m else ""]
            for task, m in per_task.items() for metric, value in m.items() if metric != "n" and not metric.endswith("_ci")]
    return _table(["lm-eval task", "n", "metric", "value", "95% CI"], rows) + [""]


def _problems(results: dict) -> list[str]:
    lines = []
    for name, info in results["datasets"].items():
        found = info["problems"]
        if found:
            state = f"not evaluated: {info['skipped']}" if info.get("skipped") else f"{info['evaluated']} evaluated"
            lines += [f"- `{name}`: {len(found)} of {info['records']} records left out ({state})"]
            lines += [f"  - {p}" for p in found[:PROBLEMS_SHOWN]]
            if len(found) > PROBLEMS_SHOWN:
                lines.append(f"  - ... {len(found) - PROBLEMS_SHOWN} more in results.json")
    for label, per_dataset in results["results"].items():
        for name, m in per_dataset.items():
            if m.get("unparsable"):
                shown = ", ".join(m["unparsable_where"])
                lines.append(f"- `{name}` ({label}): {m['unparsable']} unparsable outputs, e.g. at {shown}")
    return ["## Problems", "", *lines, ""] if lines else []
