"""What a run directory says about its run, read from whatever files it has.

A finished run has training_metrics.json (and maybe eval/results.json); a running or killed one
has only training.log and its checkpoints' trainer_state.json. Readers (compare, status) get one
`RunData` either way, and a directory with none of these files is reported, not guessed at.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import yaml

from knowtune.config import flatten
from knowtune.train.state import read_state

# training.log lines written by knowtune.train.recipe.ProgressWithLoss, and the total announced at the start.
STEP_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ INFO knowtune: step (\d+): (\{.*\})$")
TOTAL_LINE = re.compile(r"knowtune: (?:Training (\d+) steps|Resuming from .* \(step \d+ of (\d+);)")
# Per-eval bookkeeping, not measurements of the model.
NOT_METRICS = ("_runtime", "_per_second", "_num_tokens", "_entropy", "epoch", "step")
SAMPLES_KEPT = 5


@dataclass
class RunData:
    path: Path
    state: dict
    config: dict = field(default_factory=dict)  # flattened: {"training.learning_rate": 0.001, ...}
    history: list[dict] = field(default_factory=list)  # trainer log_history, one entry per step and kind
    step_times: dict[int, datetime] = field(default_factory=dict)  # from training.log: when each step was logged
    total_steps: int | None = None
    final: dict = field(default_factory=dict)  # flat final metrics: eval_*, train_runtime, tokens_per_second ...
    samples: list[dict] = field(default_factory=list)  # a few generated answers: question, answer, prediction

    @property
    def has_metrics(self) -> bool:
        return bool(self.history or self.final) or (self.path / "losses.npy").is_file()

    @property
    def step(self) -> int | None:
        steps = [h["step"] for h in self.history if "step" in h]
        return max(steps) if steps else None

    def losses(self) -> tuple[list[int], list[float]]:
        """Training loss per logged step; losses.npy (one value per logging step) when no history has them."""
        points = sorted({h["step"]: h["loss"] for h in self.history if "loss" in h and "step" in h}.items())
        if not points and (self.path / "losses.npy").is_file():
            values = np.load(self.path / "losses.npy", allow_pickle=False)
            every = int(self.config.get("training.logging_steps", 1))
            points = [((i + 1) * every, float(v)) for i, v in enumerate(values)]
        return [s for s, _ in points], [v for _, v in points]

    def evals(self) -> list[dict]:
        """One entry per evaluation step (the last one logged at that step): step and eval_* metrics."""
        by_step = {}
        for h in self.history:
            if "step" in h and any(k.startswith("eval_") for k in h):
                by_step[h["step"]] = {k: v for k, v in h.items() if is_metric(k) and isinstance(v, (int, float))}
        return [{"step": s, **m} for s, m in sorted(by_step.items())]


def is_metric(key: str) -> bool:
    return key.startswith("eval_") and not key.endswith(NOT_METRICS)


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _latest_checkpoint_state(run_dir: Path) -> dict | None:
    found = sorted(run_dir.glob("checkpoints/checkpoint-*/trainer_state.json"),
                   key=lambda p: int(p.parent.name.rsplit("-", 1)[1]) if p.parent.name.rsplit("-", 1)[1].isdigit() else -1)
    return _json(found[-1]) if found else None


def _read_log(run: RunData) -> list[dict]:
    """Log entries of training.log (a resumed run appends: a repeated step keeps its latest entry)."""
    entries = {}
    try:
        lines = (run.path / "training.log").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    for line in lines:
        total = TOTAL_LINE.search(line)
        if total:
            run.total_steps = int(total[1] or total[2])
        match = STEP_LINE.match(line)
        if not match:
            continue
        step, logged = int(match[2]), json.loads(match[3])
        run.step_times[step] = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S")
        kind = "eval" if any(k.startswith("eval_") for k in logged) else "train"
        entries[(step, kind)] = {**logged, "step": step}
    return [entries[k] for k in sorted(entries)]


def _final_metrics(metrics: dict | None, results: dict | None) -> dict:
    """Flat final metrics; eval/results.json's scores are named as training names them, eval_<dataset>_<metric>."""
    final = {}
    if metrics:
        final.update({k: v for k, v in (metrics.get("eval") or {}).items() if is_metric(k)})
        train = metrics.get("train") or {}
        for key in ("train_runtime", "train_loss"):
            if key in train:
                final[key] = train[key]
        tokens = [h["num_tokens"] for h in metrics.get("log_history", []) if "num_tokens" in h]
        if tokens and train.get("train_runtime"):
            final["tokens_per_second"] = tokens[-1] / train["train_runtime"]
        after = (metrics.get("heldout") or {}).get("after")
        if after:
            final["heldout_accuracy"] = after["accuracy"]
    for dataset, scores in ((results or {}).get("results", {}).get("model") or {}).items():
        for key, value in scores.items():
            if isinstance(value, (int, float)) and key not in ("n", "batch_size", "tokens", "windows"):
                final[f"eval_{dataset}_{key}"] = value
    return final


def _samples(run_dir: Path, metrics: dict | None) -> list[dict]:
    """A few generated answers: from eval/predictions/*.jsonl, else the held-out check of training."""
    for path in sorted((run_dir / "eval" / "predictions").glob("*.jsonl")):
        found = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()[:SAMPLES_KEPT]:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            gold = record.get("answers") or record.get("entities") or ""
            found.append({"question": record.get("question") or record.get("text", ""),
                          "answer": gold[0] if isinstance(gold, list) and len(gold) == 1 else gold,
                          "prediction": record.get("prediction", "")})
        if found:
            return found
    after = ((metrics or {}).get("heldout") or {}).get("after") or {}
    return [{k: p.get(k, "") for k in ("question", "answer", "prediction")} for p in after.get("predictions", [])[:SAMPLES_KEPT]]


def read_run(run_dir: str | Path) -> RunData:
    run_dir = Path(run_dir)
    run = RunData(run_dir, read_state(run_dir))
    try:
        run.config = flatten(yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8")) or {}, keep_empty=True)
    except (OSError, yaml.YAMLError):
        pass
    metrics = _json(run_dir / "training_metrics.json")
    results = _json(run_dir / "eval" / "results.json")
    logged = _read_log(run)
    if metrics and metrics.get("log_history"):
        run.history = metrics["log_history"]
    elif logged:
        run.history = logged
    else:
        run.history = (_latest_checkpoint_state(run_dir) or {}).get("log_history", [])
    if metrics:
        run.total_steps = metrics.get("global_step", run.total_steps)
    elif run.total_steps is None:
        run.total_steps = (_latest_checkpoint_state(run_dir) or {}).get("max_steps")
    run.final = _final_metrics(metrics, results)
    if not run.final and run.evals():  # a run that has not finished: its latest evaluation
        run.final = {k: v for k, v in run.evals()[-1].items() if k != "step"}
    run.samples = _samples(run_dir, metrics)
    return run


def is_run_dir(path: Path) -> bool:
    return any((path / name).exists() for name in ("config.yaml", "training.log", "training_metrics.json", "state.json"))
