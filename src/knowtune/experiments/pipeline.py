"""`knowtune pipeline PIPELINE.yaml` (seed 001): one base config, trained on each dataset in turn.

For each dataset: the base model fresh from disk, train (with the dataset's held-out questions
before and after), evaluate with `knowtune eval` on the dataset's eval files, free the memory.
A dataset that fails (a bad file, a config mistake, a crash) is reported with its message and
the others go on. At the end, summary.json and summary.md hold one row per dataset.
"""

from __future__ import annotations

import argparse
import copy
import gc
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from knowtune.config import Strict, add_config_command, one_path_is_a_list, read_yaml, validate
from knowtune.errors import UserError
from knowtune.train.state import write_state
from knowtune.experiments.sweep_config import TRIAL_KEYS
from knowtune.fileio import write_atomic, write_json
from knowtune.train.config import TrainConfig

SHOWN_METRICS = ("exact_match", "f1", "contains", "precision", "recall", "perplexity")


class PipelineDataset(Strict):
    name: str | None = Field(None, description="Its run directory's name (default: the first train file's stem).")
    train: list[str] = Field(min_length=1, description="Training data (data.train of the base config for this dataset).")
    eval: list[str] = Field(default_factory=list, description="Eval-loss data during training (data.eval).")
    heldout: str | None = Field(
        None, description="Held-out QA file answered before and after training (default: the base config's heldout)."
    )
    evaluate: list[str] = Field(
        default_factory=list,
        description="Files `knowtune eval` scores the trained model on, PATH or PATH:METRIC (qa, extraction, "
        "perplexity); results in <run>/eval/.",
    )

    _one_path_is_a_list = field_validator("train", "eval", mode="before")(one_path_is_a_list)


class PipelineConfig(Strict):
    base: str | dict[str, Any] = Field(description="The train config: a `knowtune train` YAML path, or the config inline.")
    datasets: list[PipelineDataset] = Field(
        min_length=1, description="The datasets, in order: each a mapping (train, eval, heldout, evaluate) or a train file path."
    )
    experiment_name: str = Field("pipeline", description="Pipeline directory under base_output_dir (default: the file's name).")
    base_output_dir: str = Field("runs", description="Parent of the pipeline directory; each dataset's run directory is inside it.")
    overwrite: bool = Field(False, description="Replace an existing pipeline directory instead of refusing.")

    @field_validator("datasets", mode="before")
    @classmethod
    def _paths_are_datasets(cls, value):
        return [{"train": item} if isinstance(item, str) else item for item in value] if isinstance(value, list) else value

    @model_validator(mode="after")
    def _unique_names(self):
        names = [d.name or Path(d.train[0]).stem for d in self.datasets]
        for d, name in zip(self.datasets, names):
            if names.count(name) > 1:
                raise ValueError(f"two datasets are named '{name}': give them distinct `name`s")
            d.name = name
        return self


def train_config(cfg: PipelineConfig, dataset: PipelineDataset, root: Path, source: str) -> TrainConfig:
    """The base config for one dataset, inside the pipeline directory."""
    base = read_yaml(cfg.base) if isinstance(cfg.base, str) else copy.deepcopy(cfg.base)
    data = {k: v for k, v in base.items() if k not in TRIAL_KEYS}
    data["data"] = {**data.get("data", {}), "train": dataset.train, **({"eval": dataset.eval} if dataset.eval else {})}
    if dataset.heldout:
        data["heldout"] = dataset.heldout
    data.update(experiment_name=dataset.name, base_output_dir=str(root))
    return validate(TrainConfig, data, f"{source} dataset '{dataset.name}'")


def _eval_metrics(results: dict) -> dict:
    return {name: {k: v for k, v in metrics.items() if k in SHOWN_METRICS}
            for name, metrics in results["results"].get("model", {}).items()}


def run_dataset(cfg: PipelineConfig, dataset: PipelineDataset, root: Path, source: str) -> dict:
    """Train (and evaluate) on one dataset; the row of the summary."""
    from knowtune.evaluate.config import EvalConfig
    from knowtune.evaluate.run import run as evaluate
    from knowtune.train.run import run as train

    train_cfg = train_config(cfg, dataset, root, source)
    result = train(train_cfg, command=["knowtune", "pipeline", source])
    metrics = result.metrics
    del result  # the trained model: gone before the next dataset loads its own
    heldout = metrics.get("heldout") or {}
    row = {
        "train_loss": metrics["train"].get("train_loss"),
        "eval_loss": (metrics.get("eval") or {}).get("eval_loss"),
        "heldout_before": (heldout.get("before") or {}).get("accuracy"),
        "heldout_after": (heldout.get("after") or {}).get("accuracy"),
    }
    if dataset.evaluate:
        results = evaluate(EvalConfig(model_path=str(root / dataset.name), datasets=dataset.evaluate,
                                      cache_dir=train_cfg.cache_dir, trust_remote_code=train_cfg.trust_remote_code))
        row["eval"] = _eval_metrics(results)
    return row


def free_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def run_pipeline(cfg: PipelineConfig, source: str = "pipeline") -> dict:
    """Every dataset in turn; a failure is recorded and the next dataset goes on. Returns the summary."""
    root = Path(cfg.base_output_dir) / cfg.experiment_name
    if root.exists() and any(root.iterdir()):
        if not cfg.overwrite:
            raise UserError(f"pipeline directory {root} already exists; replace it with overwrite=true or choose "
                            f"another experiment_name")
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for index, dataset in enumerate(cfg.datasets, start=1):
        print(f"[{index}/{len(cfg.datasets)}] {dataset.name}: {', '.join(dataset.train)}", flush=True)
        start, run_dir = time.monotonic(), root / dataset.name
        try:
            row = {"state": "finished", **run_dataset(cfg, dataset, root, source)}
        except UserError as e:
            row = {"state": "failed", "error": str(e)}
        except Exception as e:  # a crash on one dataset is reported; the next dataset still runs
            traceback.print_exc()
            row = {"state": "failed", "error": f"{type(e).__name__}: {e}"}
        finally:
            free_memory()
        row = {"dataset": dataset.name, "train": dataset.train, "run_dir": str(run_dir), **row,
               "seconds": round(time.monotonic() - start, 1)}
        if run_dir.is_dir():
            write_state(run_dir, row["state"], **({"reason": row["error"]} if "error" in row else {}))
        if "error" in row:
            print(f"[{index}/{len(cfg.datasets)}] {dataset.name} failed: {row['error']}", file=sys.stderr, flush=True)
        rows.append(row)
    summary = {"pipeline": cfg.experiment_name, "source": source, "datasets": rows,
               "failed": sum(r["state"] == "failed" for r in rows)}
    write_json(root / "summary.json", summary)
    write_atomic(root / "summary.md", render_summary(summary))
    print(f"Pipeline {cfg.experiment_name}: {len(rows) - summary['failed']} of {len(rows)} datasets done; "
          f"summary: {root / 'summary.md'}", flush=True)
    return summary


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def render_summary(summary: dict) -> str:
    lines = [f"# Pipeline {summary['pipeline']}", "",
             f"{len(summary['datasets'])} datasets, {summary['failed']} failed; config `{summary['source']}`.", "",
             "| dataset | state | train loss | eval loss | held-out before -> after | evaluation | seconds | message |",
             "|---|---|---|---|---|---|---|---|"]
    for r in summary["datasets"]:
        heldout = f"{_fmt(r.get('heldout_before'))} -> {_fmt(r.get('heldout_after'))}" if "heldout_after" in r else "—"
        evaluation = "; ".join(f"{name}: " + ", ".join(f"{k} {_fmt(v)}" for k, v in m.items())
                               for name, m in r.get("eval", {}).items()) or "—"
        message = r.get("error", "").replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {r['dataset']} | {r['state']} | {_fmt(r.get('train_loss'))} | {_fmt(r.get('eval_loss'))} | "
                     f"{heldout} | {evaluation} | {r['seconds']} | {message} |")
    return "\n".join(lines) + "\n"


def load_pipeline(path: str | Path, overrides: list[str] = ()) -> PipelineConfig:
    from knowtune.config import load_config

    return load_config(PipelineConfig, path, overrides, base={"experiment_name": Path(path).stem})


def add_pipeline_parser(sub: argparse._SubParsersAction) -> None:
    add_config_command(
        sub, "pipeline", PipelineConfig, cmd_pipeline,
        "train a base config on each of several datasets in turn, evaluate each, summarise", required=True,
        description="Exit code 0 when every dataset finished, 1 when one failed (the others still run).",
        keys="pipeline keys",
    )


def cmd_pipeline(args: argparse.Namespace) -> int:
    from knowtune.config import split_config_and_overrides

    path, overrides = split_config_and_overrides(
        args.items, required="a pipeline file: knowtune pipeline PIPELINE.yaml [key=value ...]")
    summary = run_pipeline(load_pipeline(path, overrides), str(path))
    return 1 if summary["failed"] else 0
