"""Early validation inside a training run (seed 003: "validate both after one epoch, keep the better").

At the first evaluation at or after `training.early_validation.at_epoch` the run writes its eval
metrics to early_validation.json and stops itself if they miss the success criteria. Whatever
watches the run (a sweep) may then ask it to stop by writing stop_request.json into the run
directory, e.g. because it trails the leader; the run checks for it after every step, so the GPU
is free within a step.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from transformers import TrainerCallback

from knowtune.train import criteria as crit
from knowtune.train.state import write_state
from knowtune.fileio import write_json

RESULT_FILE = "early_validation.json"
STOP_FILE = "stop_request.json"
_EPOCH_TOLERANCE = 1e-6  # state.epoch at an epoch's end is a sum of fractions


def request_stop(run_dir: str | Path, reason: str) -> None:
    """Ask a running training to stop after its current step."""
    write_json(Path(run_dir) / STOP_FILE, {"reason": reason, "time": time.time()})


def read_result(run_dir: str | Path) -> dict | None:
    try:
        return json.loads((Path(run_dir) / RESULT_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


class EarlyValidationCallback(TrainerCallback):
    def __init__(self, settings, run_dir: Path):
        self.at_epoch = settings.at_epoch
        self.criteria = crit.parse_all(settings.criteria, "training.early_validation.criteria")
        self.run_dir = Path(run_dir)
        self.result: dict | None = None

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if self.result is not None or not metrics or (state.epoch or 0) + _EPOCH_TOLERANCE < self.at_epoch:
            return
        passed, misses = crit.check(self.criteria, metrics)
        self.result = {"epoch": state.epoch, "step": state.global_step, "metrics": metrics,
                       "criteria": [str(c) for c in self.criteria], "passed": passed, "misses": misses}
        if not passed:
            self.result["stopped"] = "missed the criteria at epoch {:g}: {}".format(state.epoch, "; ".join(misses))
            control.should_training_stop = True
        self._record(state)

    def on_step_end(self, args, state, control, **kwargs):
        stop = self.run_dir / STOP_FILE
        if control.should_training_stop or not stop.is_file():
            return
        try:
            reason = json.loads(stop.read_text(encoding="utf-8"))["reason"]
        except (OSError, json.JSONDecodeError, KeyError, TypeError):
            reason = f"{STOP_FILE} was written"
        control.should_training_stop = True
        self.result = {**(self.result or {}), "stopped": f"{reason} (stopped at step {state.global_step})"}
        self._record(state)

    def _record(self, state) -> None:
        if not state.is_world_process_zero:
            return
        write_json(self.run_dir / RESULT_FILE, self.result)
        if "stopped" in self.result:
            print(f"Early validation: stopping: {self.result['stopped']}", flush=True)
            write_state(self.run_dir, "stopped_early", reason=self.result["stopped"], step=state.global_step)
        else:
            print(f"Early validation at epoch {state.epoch:g}: criteria met, training goes on", flush=True)
