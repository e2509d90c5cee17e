"""The config of `knowtune sweep`: a base train config plus variants, each variant one trial.

Every trial is a full `TrainConfig` (the base with the variant's keys set), validated before
anything runs; a variant that does not validate is reported by name and the others still run.
"""

from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from knowtune.config import Strict, flatten, parse_override, read_yaml, set_path, validate
from knowtune.errors import UserError
from knowtune.train import criteria as crit
from knowtune.train.config import EarlyValidation, TrainConfig

# Set by the sweep for each trial: where it lives, and its devices.
TRIAL_KEYS = ("experiment_name", "base_output_dir", "overwrite", "resume")
DEVICE_KEYS = ("gpu_ids", "gpu_type")


class SweepEarlyValidation(EarlyValidation):
    max_gap: float | None = Field(
        None, ge=0, description="Also stop a trial whose `metric` trails the best validated trial by more than this "
        "(in the metric's units, e.g. 0.03 for three F1 points); a trial already finished is left as it is.",
    )


class SweepConfig(Strict):
    base: str | dict[str, Any] = Field(
        description="The train config every trial starts from: the path of a `knowtune train` YAML, or the config inline."
    )
    grid: dict[str, list[Any]] = Field(
        default_factory=dict,
        description="One trial per combination: dotted train config keys, each with a list of values "
        "(e.g. training.learning_rate: [1e-4, 2e-4]).",
    )
    variants: list[dict[str, Any]] = Field(
        default_factory=list,
        description="One trial per entry: train config keys (dotted or nested) to set on the base; an optional "
        "`name` names the trial's directory (default: from its keys and values).",
    )
    experiment_name: str = Field("sweep", description="Sweep directory name under base_output_dir (default: the file's name).")
    base_output_dir: str = Field("runs", description="Parent of the sweep directory; each trial's run directory is inside it.")
    overwrite: bool = Field(False, description="Replace an existing sweep directory instead of refusing.")
    gpu_ids: list[int] | None = Field(None, description="Run trials on these GPUs, one trial per GPU at a time.")
    gpu_type: str | None = Field(
        None, description="Run trials on every GPU whose name contains this text (e.g. A800); auto = all GPUs (the default)."
    )
    backend: Literal["local", "ray"] = Field(
        "local",
        description="local: trials as processes on this machine, one per GPU (one after another without a GPU); "
        "ray: trials as Ray tasks with one GPU each, across every machine of a Ray cluster (needs knowtune[ray]).",
    )
    ray_address: str | None = Field(
        None,
        description="backend=ray: the cluster to join (auto, or ray://HOST:10001); None = a Ray instance on this "
        "machine. Every machine must see the sweep directory at the same path (a shared disk).",
    )
    metric: str | None = Field(
        None,
        description="Rank trials by this metric (e.g. f1 or eval_heldout_f1; lower is better for *loss and "
        "perplexity); default: the first criterion's metric, else eval_loss.",
    )
    criteria: list[str] = Field(
        default_factory=list, description="Success criteria for the final metrics, shown in the comparison (e.g. f1>=0.875)."
    )
    early_validation: SweepEarlyValidation | None = Field(
        None, description="Validate every trial at a point (at_epoch) against its criteria and stop those that miss them."
    )

    @model_validator(mode="after")
    def _consistent(self):
        if bool(self.grid) == bool(self.variants):
            raise ValueError("give either grid (every combination) or variants (a list of trials), not both or neither")
        for key, values in self.grid.items():
            if not values:
                raise ValueError(f"grid.{key} has no values")
        if self.gpu_ids is not None and self.gpu_type is not None:
            raise ValueError("set gpu_ids or gpu_type, not both")
        if self.backend == "ray" and (self.gpu_ids is not None or self.gpu_type not in (None, "auto")):
            raise ValueError("backend=ray gives each trial one GPU of the cluster itself: leave out gpu_ids and gpu_type")
        try:
            crit.parse_all(self.criteria)
        except UserError as e:
            raise ValueError(str(e)) from None
        if self.early_validation and self.early_validation.max_gap is not None and not self.leader_metric:
            raise ValueError("early_validation.max_gap compares trials on a metric: set metric or early_validation.criteria")
        return self

    @property
    def leader_metric(self) -> str | None:
        if self.metric:
            return self.metric
        early = self.early_validation.criteria if self.early_validation else []
        return crit.parse(early[0]).metric if early else None


@dataclass
class Trial:
    name: str
    overrides: dict[str, Any]  # dotted train config keys -> values, as the sweep file gave them
    run_dir: Path
    config: TrainConfig | None = None  # None when the variant does not validate
    error: str | None = None


def load_sweep(path: str | Path, overrides: list[str] = ()) -> SweepConfig:
    """The sweep file with `key=value` overrides; `base.a.b=value` sets a key of the base train config."""
    data = {"experiment_name": Path(path).stem, **read_yaml(path)}
    if isinstance(data.get("base"), str):
        data["base"] = read_yaml(data["base"])
    for item in overrides:
        keys, value = parse_override(item)
        set_path(data, keys, value)
    return validate(SweepConfig, data, f"{path}" + (" (with overrides)" if overrides else ""))


def sweep_dir(cfg: SweepConfig) -> Path:
    return Path(cfg.base_output_dir) / cfg.experiment_name


def variant_overrides(cfg: SweepConfig) -> list[tuple[str | None, dict[str, Any]]]:
    """(explicit name or None, dotted keys -> values) for each trial, in order."""
    if cfg.variants:
        return [(str(v["name"]) if "name" in v else None, flatten({k: x for k, x in v.items() if k != "name"}))
                for v in cfg.variants]
    keys = list(cfg.grid)
    return [(None, dict(zip(keys, values))) for values in itertools.product(*cfg.grid.values())]


def trial_name(overrides: dict[str, Any]) -> str:
    text = "_".join(f"{key.rsplit('.', 1)[-1]}-{value}" for key, value in overrides.items()) or "base"
    return re.sub(r"[^A-Za-z0-9._=+-]+", "-", text)


def plan_trials(cfg: SweepConfig, source: str = "sweep") -> list[Trial]:
    """Every trial with its validated TrainConfig, or the one-line reason it has none."""
    base = read_yaml(cfg.base) if isinstance(cfg.base, str) else cfg.base
    for key in DEVICE_KEYS:
        if base.get(key) is not None:
            raise UserError(f"{source}: base sets {key}; a sweep chooses its trials' GPUs itself: set {key} at the "
                            f"top of the sweep file")
    trials, taken = [], set()
    for index, (name, overrides) in enumerate(variant_overrides(cfg), start=1):
        name = name or trial_name(overrides)
        if name in taken:
            name = f"{name}-{index}"
        taken.add(name)
        data = {k: v for k, v in copy.deepcopy(base).items() if k not in TRIAL_KEYS}
        for key, value in overrides.items():
            set_path(data, key.split("."), value)
        data.update(experiment_name=name, base_output_dir=str(sweep_dir(cfg)))
        if cfg.early_validation:
            data.setdefault("training", {})["early_validation"] = cfg.early_validation.model_dump(exclude={"max_gap"})
        trial = Trial(name, overrides, sweep_dir(cfg) / name)
        try:
            trial.config = validate(TrainConfig, data, f"{source} variant '{name}'")
        except UserError as e:
            trial.error = str(e)
        trials.append(trial)
    return trials
