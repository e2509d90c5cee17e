"""`knowtune train`: a config's run, or its stages in order (knowtune.train.stages), each a run of knowtune.train.recipe."""

from __future__ import annotations

from knowtune.train.config import TrainConfig
from knowtune.train.recipe import TrainResult, run_one
from knowtune.train.stages import run_stages


def run(cfg: TrainConfig, command: list[str] | None = None) -> TrainResult:
    """Train according to `cfg`, all its stages in order; everything it produces lands in the run directory.

    `command` is the command line recorded in train_command.txt (default: sys.argv). With stages, the
    result is the last stage's.
    """
    if cfg.stages:
        return run_stages(cfg, command)
    return run_one(cfg, command)
