"""`knowtune status [RUN_DIR|SWEEP_DIR]`: step, loss, ETA, latest metrics and state of each run.

It reads what training leaves while it runs (training.log, checkpoints' trainer_state.json) and
when it ends (training_metrics.json, state.json), so it works on a run that is still going, one
that was killed, and a folder of runs such as a sweep.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from pathlib import Path

from knowtune.errors import UserError
from knowtune.train.projection import duration
from knowtune.experiments.rundata import RunData, is_run_dir, read_run

# A "running" run whose training.log has been silent this long is probably dead: say so.
SILENT_AFTER_S = 30 * 60
SHOWN_METRICS = 3


def run_dirs(path: Path) -> list[Path]:
    """The run directory itself, or the run directories inside a folder (a sweep, or runs/)."""
    if not path.is_dir():
        raise UserError(f"{path}: no such directory")
    if is_run_dir(path):
        return [path]
    found = sorted(p for p in path.iterdir() if p.is_dir() and is_run_dir(p))
    if not found:
        raise UserError(f"{path}: neither a run directory nor a folder of run directories (none has config.yaml, "
                        "training.log, training_metrics.json or state.json)")
    return found


def eta(run: RunData) -> float | None:
    """Seconds left at the pace between the first and last logged training steps of training.log."""
    steps = sorted(s for s, t in run.step_times.items())
    if run.total_steps is None or len(steps) < 2 or run.step is None:
        return None
    first, last = steps[0], steps[-1]
    per_step = (run.step_times[last] - run.step_times[first]).total_seconds() / (last - first)
    return max(run.total_steps - run.step, 0) * per_step


def state_text(run: RunData, now: float) -> str:
    state = run.state.get("state", "unknown")
    if state == "running":
        log = run.path / "training.log"
        silent = now - log.stat().st_mtime if log.is_file() else None
        if silent is not None and silent > SILENT_AFTER_S:
            return f"running? (log silent {duration(silent)})"
    reason = run.state.get("reason") or run.state.get("message")
    return f"{state} ({reason})" if reason and state in ("stopped_early", "failed") else state


def latest_metrics(run: RunData) -> str:
    evals = run.evals()
    latest = {k: v for k, v in evals[-1].items() if k != "step"} if evals else run.final
    keys = [k for k in latest if k == "eval_loss"] + [k for k in latest if k != "eval_loss"]
    return ", ".join(f"{k}={latest[k]:.4g}" for k in keys[:SHOWN_METRICS]) or "-"


def row(run: RunData, now: float) -> list[str]:
    losses = run.losses()[1]
    step = "-" if run.step is None else f"{run.step}/{run.total_steps or '?'}"
    left = eta(run) if run.state.get("state") == "running" else None
    return [run.path.name, state_text(run, now), step, f"{losses[-1]:.4f}" if losses else "-",
            duration(left) if left is not None else "-", latest_metrics(run)]


def add_status_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "status", help="step, loss, ETA, latest metrics and state of a run or of every run in a folder",
        description="Show each run's step, latest training loss, ETA (at the pace of its logged steps), latest "
        "eval metrics and state: running, finished, stopped_early or failed.",
    )
    parser.add_argument("path", nargs="?", type=Path, default=Path("runs"),
                        help="a run directory or a folder of run directories, e.g. a sweep (default: runs)")
    parser.set_defaults(func=cmd_status)


def cmd_status(args: argparse.Namespace) -> int:
    now = time.time()
    rows = [["run", "state", "step", "loss", "ETA", "latest metrics"]]
    rows += [row(read_run(p), now) for p in run_dirs(args.path)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)) + "  " + r[-1])
    print(f"as of {datetime.now().strftime('%Y-%m-%d %H:%M:%S')}")
    return 0
