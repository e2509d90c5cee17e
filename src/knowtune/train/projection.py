"""BudgetProjection: a few steps into any training run, print the projected total time against a budget.

So a user knows at minute two whether an eight-hour job will fit. The first step is left out of the
pace (it pays for warm-up: allocation, compilation, the first data loading); evaluations and saves
that come later are not in the projection.
"""

from __future__ import annotations

import logging
import time

from transformers import TrainerCallback

log = logging.getLogger("knowtune")


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def projection_message(total_s: float, steps: int, budget_hours: float | None) -> str:
    message = f"projected total {duration(total_s)} for {steps} steps"
    if budget_hours is None:
        return message
    budget_s = budget_hours * 3600
    if total_s <= budget_s:
        return f"{message}: fits the {budget_hours:g}h budget"
    return f"{message}: exceeds the {budget_hours:g}h budget by {duration(total_s - budget_s)}"


class BudgetProjection(TrainerCallback):
    def __init__(self, budget_hours: float | None, after_steps: int = 5):
        self.budget_hours = budget_hours
        self.after_steps = max(after_steps, 2)  # the pace needs a step after the warm-up step
        self.reported = False

    def on_train_begin(self, args, state, control, **kwargs):
        self.started, self.first_step = time.monotonic(), state.global_step  # a resumed run starts midway
        self.first_step_done = None

    def on_step_end(self, args, state, control, **kwargs):
        if self.reported or not state.is_world_process_zero:
            return
        done = state.global_step - self.first_step
        now = time.monotonic()
        if done == 1:
            self.first_step_done = now
        if done < self.after_steps or self.first_step_done is None or state.global_step >= state.max_steps:
            return
        per_step = (now - self.first_step_done) / (done - 1)
        total = (now - self.started) + (state.max_steps - state.global_step) * per_step
        message = projection_message(total, state.max_steps, self.budget_hours)
        print(f"{message} ({per_step:.2f} s per step after {done} steps)", flush=True)
        log.info(message)
        self.reported = True
