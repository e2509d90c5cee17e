"""`knowtune eval`: setup (resolve models, read datasets), evaluate, save results.

Everything that can reject the input runs before a model is loaded. A record that cannot be
scored is left out and counted; a dataset with no usable record is skipped and reported; the
rest of the evaluation goes on.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shlex
import shutil
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from knowtune.errors import UserError
from knowtune.evaluate import answer_cache
from knowtune.evaluate.config import EvalConfig, split_metric
from knowtune.evaluate.eval_data import DEFAULT_SUITE, EvalDataset, fingerprint, load_eval_dataset, suite_path
from knowtune.evaluate.evidence import (answer_with_retrieval, flags_from_predictions, load_passages, question_set,
                                        with_retrieval)
from knowtune.evaluate.report import compare, render_report, write_results, write_tensorboard
from knowtune.evaluate.scoring import evaluate_dataset, score_predictions_file
from knowtune.evaluate.stats import wilson_interval
from knowtune.evaluate.target import Target, load_target_model, load_target_tokenizer, resolve_targets
from knowtune.fileio import write_atomic
from knowtune.models.generate import GENERATION_BATCH

# A perplexity batch holds batch x window x vocabulary logits (4 x 1024 x 49152 floats: 0.8 GB, twice that
# while the loss is computed), and a full window keeps a CPU busy on its own.
CPU_PERPLEXITY_BATCH = 4
GPU_FIRST_BATCH = 64  # halved on out-of-memory


def load_datasets(cfg: EvalConfig) -> list[EvalDataset]:
    """Every requested dataset, read and checked, with a unique name (file stem, -2 on a repeat)."""
    specs = [split_metric(item) for item in cfg.datasets]
    if cfg.use_default_datasets:
        specs += [(suite_path(filename), metric) for filename, metric in DEFAULT_SUITE]
    found, names = [], set()
    suite = _suite_paths()
    for path, metric in specs:
        found.append(load_eval_dataset(
            path, metric, _unique(Path(path).stem, names), cfg.text_column, cfg.system_prompt,
            cfg.max_samples_per_dataset,
        ))
        found[-1].ends_when_answered = path in suite and not cfg.suite_whole_answers
    return found


def _unique(name: str, taken: set[str]) -> str:
    found, number = name, 1
    while found in taken:
        number += 1
        found = f"{name}-{number}"
    taken.add(found)
    return found


def _dataset_info(d: EvalDataset) -> dict:
    info = {"path": d.path, "sha256": d.sha256, "metric": d.metric, "records": d.records,
            "evaluated": len(d.items), "problems": d.problems}
    if not d.items:
        info["skipped"] = "no record could be evaluated"
    return info


def _batch_size(cfg: EvalConfig, metric: str) -> tuple[int, bool]:
    """(batch size to start with, whether to halve it on out-of-memory)."""
    import torch

    if cfg.batch_size != "auto":
        return cfg.batch_size, False
    if torch.cuda.is_available():
        return GPU_FIRST_BATCH, True
    return (CPU_PERPLEXITY_BATCH if metric == "perplexity" else GENERATION_BATCH), False


def _summary(metrics: dict, metric: str) -> str:
    keys = {"qa": ("exact_match", "f1", "contains"), "perplexity": ("perplexity", "tokens"),
            "extraction": ("precision", "recall", "f1", "macro_f1", "unparsable")}[metric]
    return "  ".join(f"{k} {metrics[k]:.4g}" if isinstance(metrics[k], float) else f"{k} {metrics[k]}" for k in keys)


def _prepare_output(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for ours in ("predictions", "tensorboard"):  # only what an earlier evaluation wrote here
        shutil.rmtree(out_dir / ours, ignore_errors=True)


def _header(command: list[str] | None) -> dict:
    return {
        "knowtune_version": importlib.metadata.version("knowtune"),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join(command or sys.argv),
    }


@contextmanager
def _timed(seconds: dict, key: str):
    """`seconds[key]`: the wall seconds of the block, less a model's loading inside it (`seconds["loading"]`)."""
    started, loading = time.monotonic(), seconds.get("loading", 0.0)
    yield
    seconds[key] = time.monotonic() - started - (seconds.get("loading", 0.0) - loading)


def _evaluate_target(target: Target, tokenizer, datasets: list[EvalDataset], cfg: EvalConfig, out_dir: Path,
                     retrieval=None, lm_tasks=None) -> tuple[dict, dict]:
    """Metrics per dataset for one model, and its extras: right/wrong per question with `retrieval` (a
    BM25Index), lm-eval scores with `lm_tasks`. Predictions go to out_dir/predictions[/base]/<dataset>.jsonl
    (with retrieval: <dataset>.retrieval.jsonl)."""
    import torch

    shown = f"{target.adapter} on {target.base}" if target.adapter else target.base
    model, seconds = None, {}

    def loaded():
        nonlocal model
        if model is None:
            print(f"[{target.label}] loading {shown}", flush=True)
            started = time.monotonic()
            model = load_target_model(target, cfg.trust_remote_code)
            seconds["loading"] = time.monotonic() - started
        return model

    folder = out_dir / "predictions" / ("" if target.label == "model" else target.label)
    folder.mkdir(parents=True, exist_ok=True)
    # A model with no adapter, asked greedily, answers as it did before: its answers are kept (answer_cache).
    cached = not target.adapter and not cfg.temperature and not cfg.fresh_answers
    cache_root, model_sha256 = answer_cache.folder(cfg.cache_dir), target.base_sha256 if cached else None
    found = {}
    for d in datasets:
        torch.manual_seed(cfg.seed)
        with _timed(seconds, d.name):
            batch_size, shrink = _batch_size(cfg, d.metric)
            settings = _settings(cfg, batch_size) | ({"ends_when_answered": True} if d.ends_when_answered else {})
            entry = answer_cache.key(model_sha256, d, settings) if cached else None
            metrics = _kept(cache_root, entry, folder / f"{d.name}.jsonl", d, f"[{target.label}] {d.name}")
            if metrics is None:
                # Streamed to a hidden name, renamed when the dataset is done: a killed run leaves no short file.
                partial = folder / f".{d.name}.jsonl.partial"
                with partial.open("w", encoding="utf-8") as sink:
                    metrics = evaluate_dataset(
                        loaded(), tokenizer, d, batch_size=batch_size, shrink_on_oom=shrink,
                        max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_p=cfg.top_p,
                        max_length=cfg.max_length, stride=cfg.stride, sink=sink,
                    )
                os.replace(partial, folder / f"{d.name}.jsonl")
                answer_cache.store(cache_root, entry, metrics, folder / f"{d.name}.jsonl")
        found[d.name] = metrics
        if d.metric == "qa":
            metrics["contains_ci"] = list(wilson_interval(round(metrics["contains"] * metrics["n"]), metrics["n"]))
        print(f"[{target.label}] {d.name} ({d.metric}, {metrics['n']}): {_summary(metrics, d.metric)}", flush=True)
    extras: dict = {"retrieval": {}}
    for d in datasets if retrieval is not None else []:
        if d.metric == "qa" and d.path not in _suite_paths():
            batch_size, _ = _batch_size(cfg, "qa")
            with _timed(seconds, f"{d.name} with retrieval"):
                asked, path = with_retrieval(d, retrieval, cfg.retrieval_top_k), folder / f"{d.name}.retrieval.jsonl"
                entry = answer_cache.key(model_sha256, d, _settings(cfg, batch_size) | {"retrieval": asked.prompts}
                                         ) if cached else None
                kept = _kept(cache_root, entry, path, d, f"[{target.label}] {d.name} with retrieval")
                if kept is None:
                    flags = answer_with_retrieval(loaded(), tokenizer, d, asked, path, batch_size, cfg.max_new_tokens)
                    answer_cache.store(cache_root, entry, {"flags": flags}, path)
                else:
                    flags = kept["flags"]
            extras["retrieval"][d.name] = flags
            print(f"[{target.label}] {d.name} with retrieval: {sum(flags)}/{len(flags)} answered", flush=True)
    if lm_tasks is not None:
        from knowtune.evaluate.lm_eval_tasks import evaluate_model

        with _timed(seconds, "lm_eval"):
            extras["lm_eval"] = evaluate_model(loaded(), tokenizer, lm_tasks, cfg.batch_size, cfg.max_samples_per_dataset)
        print(f"[{target.label}] lm-eval: {extras['lm_eval']}", flush=True)
    extras["seconds"] = {name: round(value, 2) for name, value in seconds.items()}
    return found, extras


def _kept(cache_root: Path, entry: str | None, predictions: Path, dataset: EvalDataset, shown: str) -> dict | None:
    """What answer_cache kept under `entry` (its predictions copied to `predictions`), said on the console; None if
    nothing."""
    kept = answer_cache.load(cache_root, entry, predictions, dataset)
    if kept is not None:
        print(f"{shown}: the answers of an earlier evaluation of these files ({cache_root / entry}; --fresh_answers "
              "asks again)", flush=True)
    return kept


def _settings(cfg: EvalConfig, batch_size: int) -> dict:
    """What shapes a model's answers besides the model and the prompts (answer_cache)."""
    import torch

    return {"max_new_tokens": cfg.max_new_tokens, "max_length": cfg.max_length, "stride": cfg.stride,
            "batch_size": batch_size, "device": "cuda" if torch.cuda.is_available() else "cpu",
            "torch": torch.__version__, "trust_remote_code": cfg.trust_remote_code}


def _suite_paths() -> set[str]:
    return {suite_path(filename) for filename, _ in DEFAULT_SUITE}


def _question_sets(datasets: list[EvalDataset], out_dir: Path, extras: dict) -> dict:
    """Per QA dataset, base vs tuned (and with retrieval) right/wrong -> accuracies, intervals, McNemar."""
    found = {}
    for d in datasets:
        if d.metric != "qa":
            continue
        flags = {"base": flags_from_predictions(out_dir / "predictions" / "base" / f"{d.name}.jsonl"),
                 "tuned": flags_from_predictions(out_dir / "predictions" / f"{d.name}.jsonl")}
        if d.name in extras["base"]["retrieval"]:
            flags |= {"base_retrieval": extras["base"]["retrieval"][d.name],
                      "tuned_retrieval": extras["model"]["retrieval"][d.name]}
        found[d.name] = question_set(flags)
    return found


def _about(cfg: EvalConfig, targets: list[Target], results: dict, per_label: dict) -> list[str]:
    """The report's opening lines: what was loaded, how it was evaluated, the command."""
    used = sorted({m["batch_size"] for per in per_label.values() for m in per.values()})
    decoding = "greedy" if not cfg.temperature else f"sampling at temperature {cfg.temperature}, top_p {cfg.top_p}"
    lines = [f"**{t.label}**: " + (f"adapter `{t.adapter}` on base `{t.base}`" if t.adapter else f"`{t.base}`")
             for t in targets]
    return lines + [
        f"{results['created']} on {results['settings']['device']}; {decoding}, max_new_tokens {cfg.max_new_tokens}; "
        f"perplexity window {cfg.max_length}, stride {cfg.stride}; batch size {cfg.batch_size} "
        f"(used: {', '.join(map(str, used))})",
        f"command: `{results['command']}`",
    ]


def run(cfg: EvalConfig, command: list[str] | None = None) -> dict:
    """Evaluate according to `cfg`; return the results (also written as <output_dir>/results.json)."""
    if cfg.predictions:
        return score_predictions(cfg, command)
    import torch

    # Setup: resolve the models and read every dataset before loading anything heavy.
    targets, run_dir = resolve_targets(cfg)
    if cfg.output_dir:
        out_dir = Path(cfg.output_dir)
    elif run_dir is not None:
        out_dir = run_dir / "eval"
    else:
        raise UserError("give --output_dir (only a run directory has a default, <run>/eval)")
    datasets = load_datasets(cfg)
    usable = [d for d in datasets if d.items]
    if datasets and not usable:
        raise UserError(f"no dataset has a record that can be evaluated; {datasets[0].problems[0]}")
    for d in datasets:
        if d.problems:
            print(f"{d.name}: {len(d.problems)} of {d.records} records left out, e.g. {d.problems[0]}", file=sys.stderr)
    tokenizers = {t.label: load_target_tokenizer(t, cfg.trust_remote_code) for t in targets}
    for t in targets:
        if not tokenizers[t.label].chat_template and any(d.metric != "perplexity" for d in usable):
            raise UserError(
                f"the tokenizer of {t.adapter or t.base} has no chat template, which qa and extraction datasets need"
            )
    retrieval = None
    if cfg.retrieval:
        from knowtune.evaluate.retrieval import BM25Index

        passages = load_passages(cfg.retrieval, tokenizers[targets[0].label], cfg.retrieval_chunk_tokens)
        retrieval = BM25Index(passages)
        print(f"retrieval: {len(passages)} chunks of {', '.join(cfg.retrieval)}, top {cfg.retrieval_top_k}", flush=True)
    lm_tasks = None
    if cfg.lm_eval_tasks:
        from knowtune.evaluate.lm_eval_tasks import load_tasks

        lm_tasks = load_tasks(cfg.lm_eval_tasks)
    _prepare_output(out_dir)

    # Work.
    per_label, extras = {}, {}
    for t in targets:
        per_label[t.label], extras[t.label] = _evaluate_target(
            t, tokenizers[t.label], usable, cfg, out_dir, retrieval, lm_tasks)

    # Save.
    device = "cuda" if torch.cuda.is_available() else "cpu"
    results = {
        "title": str(run_dir or cfg.adapter or cfg.model_path),
        **_header(command),
        "settings": cfg.model_dump(mode="json") | {"device": device},
        "models": {t.label: t.describe() for t in targets},
        "datasets": {d.name: _dataset_info(d) for d in datasets},
        "results": {label: per_label[label] for label in ("model", "base") if label in per_label},
        # wall seconds per model: loading it, each dataset (its kept answers read back: about 0), each retrieval pass
        "seconds": {label: extras[label]["seconds"] for label in ("model", "base") if label in extras},
    }
    if lm_tasks is not None:
        results["lm_eval"] = {label: extras[label]["lm_eval"] for label in ("model", "base") if label in extras}
    if cfg.compare_base:
        results["comparison"] = compare(results["results"], results["datasets"])
        results["question_sets"] = _question_sets(usable, out_dir, extras)
        if lm_tasks is not None:
            from knowtune.evaluate.lm_eval_tasks import comparison_rows

            results["comparison"] |= comparison_rows(extras["base"]["lm_eval"], extras["model"]["lm_eval"])
        for name, rows in results["comparison"].items():
            print(f"{name}: " + ", ".join(
                f"{metric} {r['base']:.4g} -> {r['model']:.4g} ({r['verdict']})" for metric, r in rows.items()
            ))
    about = _about(cfg, targets, results, per_label)
    _save(out_dir, results, about)
    return results


def _save(out_dir: Path, results: dict, about: list[str]) -> None:
    write_results(out_dir, results)
    write_atomic(out_dir / "report.md", render_report(results, about))
    write_tensorboard(out_dir, results)
    print(f"Results: {out_dir / 'results.json'}, report: {out_dir / 'report.md'}", file=sys.stderr)


def score_predictions(cfg: EvalConfig, command: list[str] | None = None) -> dict:
    """Score predictions files with no model; print the metrics, and save them when output_dir is set."""
    results = {"title": ", ".join(cfg.predictions), **_header(command), "datasets": {}, "results": {"predictions": {}}}
    names = set()
    for item in cfg.predictions:
        path, metric = split_metric(item)
        name = _unique(Path(path).stem, names)
        metrics, lines, problems = score_predictions_file(path, metric)
        for problem in problems[:3]:
            print(f"left out: {problem}", file=sys.stderr)
        if metrics["metric"] == "qa":
            metrics["contains_ci"] = list(wilson_interval(round(metrics["contains"] * metrics["n"]), metrics["n"]))
        results["datasets"][name] = {"path": path, "sha256": fingerprint(path), "metric": metrics.pop("metric"),
                                     "records": lines, "evaluated": metrics["n"], "problems": problems}
        results["results"]["predictions"][name] = metrics
        print(json.dumps({name: {k: v for k, v in metrics.items() if k != "per_type"}}, ensure_ascii=False))
    if cfg.output_dir:
        out_dir = Path(cfg.output_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        _save(out_dir, results, [f"predictions scored without a model; command: `{results['command']}`"])
    return results
