"""The report of `knowtune run`, in plain words: facts learned, knowledge kept, and the verdict."""

from __future__ import annotations

from pathlib import Path

from knowtune.evaluate import evidence

TEST, DEV, RETENTION, REFERENCE = "test", "dev", "general_knowledge", "reference_text"


def _pair(results: dict, baseline: dict | None, dataset: str, metric: str) -> tuple[float, float] | None:
    """(base, tuned): from the comparison when the base was evaluated here, else the training baseline."""
    row = results.get("comparison", {}).get(dataset, {}).get(metric)
    if row:
        return row["base"], row["model"]
    after = results["results"]["model"].get(dataset, {}).get(metric)
    key = {DEV: "heldout", RETENTION: "retention"}.get(dataset)  # what selection measured on the base model
    if after is None or baseline is None or key is None:
        return None
    return baseline[key], after


def _count(share: float, n: int) -> str:
    return f"{round(share * n)}/{n} ({share:.0%})"


def verdict(results: dict, baseline: dict | None, train_metrics: dict, thresholds) -> dict:
    """Held-out accuracy and retention before -> after, each against its threshold, and lines to print.

    `baseline` is the base model's point of the selection curve (held-out and retention measured
    before training, same questions and scoring), used when the evaluation did not load the base.
    """
    sizes = {name: info["evaluated"] for name, info in results["datasets"].items()}
    # The test questions grade; only without them do the dev questions (which also chose the checkpoint).
    graded = TEST if TEST in sizes else DEV
    heldout, retention = _pair(results, baseline, graded, "contains"), _pair(results, baseline, RETENTION, "contains")
    perplexity = _pair(results, None, REFERENCE, "perplexity")
    after_perplexity = results["results"]["model"].get(REFERENCE, {}).get("perplexity")
    checks, lines = {}, []
    sets = results.get("question_sets", {})
    if heldout:
        checks["facts_learned"] = heldout[1] >= thresholds.heldout_accuracy - 1e-9
        which = "test questions, never used for selection" if graded == TEST else "dev questions, which also chose the checkpoint"
        lines.append(f"Facts learned ({which}): {_count(heldout[0], sizes[graded])} -> "
                     f"{_count(heldout[1], sizes[graded])}; needed {thresholds.heldout_accuracy:.0%}: "
                     f"{'met' if checks['facts_learned'] else 'NOT met'}" + evidence.verdict_detail(sets.get(graded)))
    if retention:
        drop = retention[0] - retention[1]
        checks["knowledge_kept"] = drop <= thresholds.retention_drop + 1e-9
        lines.append(f"Knowledge kept (general-knowledge questions answered): {_count(retention[0], sizes[RETENTION])}"
                     f" -> {_count(retention[1], sizes[RETENTION])}; allowed fall {thresholds.retention_drop:.1%}: "
                     f"{'met' if checks['knowledge_kept'] else 'NOT met'}" + evidence.verdict_detail(sets.get(RETENTION)))
    if sets.get(graded, {}).get("ship"):
        lines.append(evidence.recommendation(sets[graded]))
    if perplexity:
        lines.append(f"Reference-text perplexity: {perplexity[0]:.2f} -> {perplexity[1]:.2f}")
    elif after_perplexity is not None:
        lines.append(f"Reference-text perplexity after training: {after_perplexity:.2f}")
    passed = bool(checks) and all(checks.values())
    lines.insert(0, f"Verdict: {'PASS' if passed else 'FAIL'}")
    return {"passed": passed, "checks": checks, "graded": graded, "heldout": heldout, "retention": retention,
            "reference_perplexity": perplexity, "sizes": sizes, "lines": lines, "question_sets": sets,
            "global_step": train_metrics["global_step"], "best_checkpoint": train_metrics.get("best_checkpoint")}


def _curve_table(selection: dict | None, basis: dict | None = None) -> list[str]:
    if not selection or not selection.get("curve"):
        return []
    if basis and basis.get("estimated"):
        what = (f"Retention is the share of the whole suite answered, estimated from 36 questions the base model "
                f"answers and as many it does not ({basis['base_share']:.0%} of the suite answered), so that questions "
                f"gained count against questions lost as in the verdict. The base model's: "
                f"{selection['base_retention']:.0%}; a checkpoint may fall {selection['tolerance']:.1%} below it, as the "
                "verdict allows.")
    else:
        why = (f" (the verdict allows {basis['retention_drop']:.1%} of the whole suite to fall, and the base model answers "
               f"{basis['base_share']:.0%} of it)" if basis else "")
        what = (f"Retention of the base model: {selection['base_retention']:.0%}; a checkpoint may fall "
                f"{selection['tolerance']:.1%} below it{why}.")
    rows = ["", "## Per evaluation during training", "",
            f"{what} The chosen one has the best dev accuracy among those within (of equals, the one that kept more).",
            "", "| epoch | step | dev | retention | eval_loss | within tolerance | chosen |", "|---|---|---|---|---|---|---|"]
    for p in selection["curve"]:
        loss = f"{p['eval_loss']:.4f}" if p.get("eval_loss") is not None else ""
        rows.append(f"| {p['epoch']:.0f} | {p['step']} | {p['heldout']:.0%} | {p['retention']:.0%} | {loss} | "
                    f"{'yes' if p['within_tolerance'] else 'no'} | {'**yes**' if p['step'] == selection['chosen_step'] else ''} |")
    return rows


def render(cfg, summary: dict, run_dir: Path) -> str:
    data, coverage, seconds = summary["data"], summary["coverage"], summary["seconds"]
    lines = [f"# knowtune run: {cfg.experiment_name}", "", *[f"**{line}**" if i == 0 else f"- {line}"
                                                             for i, line in enumerate(summary["lines"])], ""]
    lines += evidence.render(summary.get("question_sets"))
    lines += ["## Data", ""]
    if coverage:
        lines.append(f"- Generated from documents: {coverage['facts_covered']} of {coverage['facts_kept']} facts covered, "
                     f"{coverage['pairs_kept']} of {coverage['pairs_generated']} pairs kept after curation "
                     f"({coverage['train']} train, {coverage['heldout']} held out); see generated/coverage.md")
    if cfg.train_data:
        lines.append(f"- Also trained on: {', '.join(f'`{p}`' for p in cfg.train_data)}")
    counted = {name: sum(1 for _ in open(run_dir / f"{name}.jsonl")) if (run_dir / f"{name}.jsonl").is_file() else 0
               for name in ("dev", "test")}
    lines.append(f"- Questions: {counted['dev']} dev (`dev.jsonl`, chose the checkpoint), {counted['test']} test "
                 f"(`test.jsonl`, graded only" + (f": {', '.join(f'`{p}`' for p in cfg.heldout)})" if cfg.heldout else
                                                 ": generated, split per fact from the dev questions)"))
    lines.append(f"- {data['train_samples']} training samples"
                 + (f" + {data['replay_samples']} replayed answers of the base model (replay.jsonl)" if data.get("replay_samples") else ""))
    lines += ["", "## Training", "", f"- {summary['global_step']} optimizer steps; final model: `final_model/`"
              + (f" (selected: `{Path(summary['best_checkpoint']).name}`)" if summary.get("best_checkpoint") else "")]
    lines += _curve_table(summary.get("selection"), summary.get("selection_tolerance"))
    lines += ["", "## Time", "", "| stage | seconds |", "|---|---|"]
    lines += [f"| {stage} | {value:.0f} |" for stage, value in seconds.items()]
    lines += ["", "Full evaluation: `eval/report.md`; training log: `training.log`; config: `run_config.yaml` "
              "(this job) and `config.yaml` (the training, resolved).", ""]
    return "\n".join(lines)
