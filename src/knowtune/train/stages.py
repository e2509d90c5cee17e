"""Staged training: one command trains a config's stages in order, each from the one before.

Stage N is the run config with `stages[N-1]` applied (TrainConfig.stage_config). It trains in its
own run directory, <base_output_dir>/<experiment_name>/stage-N/, with the usual layout and metrics,
starting from stage N-1's final_model/ (a LoRA adapter is first merged into its base, in stage N's
merged_base/). `start_stage: N` (`--stage N`) starts at stage N from an existing stage N-1, and
resume=auto goes past the stages that finished.
"""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path

import torch

from knowtune.errors import UserError
from knowtune.models import load_trained
from knowtune.train.config import TrainConfig
from knowtune.train.recipe import TrainResult, run_one


def stage_dir(cfg: TrainConfig, index: int) -> Path:
    return Path(cfg.base_output_dir) / cfg.experiment_name / f"stage-{index}"


def finished(run_dir: Path) -> bool:
    """training_metrics.json is the last file a run writes, after final_model/."""
    return (run_dir / "final_model").is_dir() and (run_dir / "training_metrics.json").is_file()


def run_stages(cfg: TrainConfig, command: list[str] | None = None) -> TrainResult:
    """Train stages start_stage.. in order; return the last stage's result."""
    count = len(cfg.stages)
    if cfg.start_stage > 1 and not finished(stage_dir(cfg, cfg.start_stage - 1)):
        earlier = stage_dir(cfg, cfg.start_stage - 1)
        raise UserError(
            f"start_stage={cfg.start_stage} needs stage {cfg.start_stage - 1}'s result, but {earlier} holds no "
            f"finished run (final_model/ and training_metrics.json); run the stages before it first"
        )
    main = int(os.environ.get("RANK", 0)) == 0
    model = cfg.model if cfg.start_stage == 1 else str(stage_dir(cfg, cfg.start_stage - 1) / "final_model")
    result = None
    for index in range(cfg.start_stage, count + 1):
        here = stage_dir(cfg, index)
        if cfg.resume == "auto" and finished(here):
            if main:
                print(f"Stage {index} of {count} finished already ({here}); going on", flush=True)
            model = str(here / "final_model")
            continue
        stage = cfg.stage_config(index).model_copy(
            update={"model": model, "base_output_dir": str(here.parent), "experiment_name": here.name}
        )
        if main:
            print(f"Stage {index} of {count}: {stage.method} from {model} -> {here}", flush=True)
        result = None  # let the previous stage's model go before the next one loads
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        result = run_one(stage, command)
        model = str(here / "final_model")
    if result is None:  # every stage had finished: hand back the last one as it is on disk
        last = stage_dir(cfg, count)
        trained, tokenizer = load_trained(last / "final_model", trust_remote_code=cfg.trust_remote_code)
        metrics = json.loads((last / "training_metrics.json").read_text(encoding="utf-8"))
        result = TrainResult(last, metrics, trained, tokenizer)
    return result
