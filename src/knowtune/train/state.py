"""A run's state for `knowtune status`, sweeps and reports: `state.json` in the run directory.

States: running, finished, stopped_early (early validation or early stopping), failed. Whoever
starts, stops or finishes a run writes it; readers fall back on the run directory's files when
there is none (a run from before state.json existed, or one killed without a word).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from knowtune.fileio import write_json

STATES = ("running", "finished", "stopped_early", "failed")
FILE = "state.json"


def write_state(run_dir: str | Path, state: str, **info) -> None:
    if state not in STATES:
        raise ValueError(f"unknown run state {state!r}")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / FILE, {"state": state, "time": time.time(), **info})


def read_state(run_dir: str | Path) -> dict:
    """The recorded state, else one inferred from the files: finished if training_metrics.json exists."""
    run_dir = Path(run_dir)
    try:
        return json.loads((run_dir / FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        pass
    if (run_dir / "training_metrics.json").is_file():
        return {"state": "finished"}
    if (run_dir / "training.log").is_file():
        return {"state": "running"}  # or killed: a reader can compare the log's age with now
    return {"state": "unknown"}
