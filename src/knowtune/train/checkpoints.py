"""Checkpoints that are complete or ignored, and a pre-empted run that saves one before it exits.

The Trainer writes a checkpoint file by file (weights, optimizer, scheduler, RNG states, then
trainer_state.json, each rank its own RNG file), so a run killed in the middle leaves a directory
that looks like a checkpoint. After the save, every rank meets at a barrier and the saving rank
flushes every file to disk and writes a commit marker last, listing the files and their sizes (as
torchtitan trusts only a checkpoint whose metadata was written). Resuming takes the newest
checkpoint whose marker and files agree and says why it skipped any newer one.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from knowtune.fileio import write_json

log = logging.getLogger("knowtune")

MARKER = "knowtune-complete.json"


def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MARKER}


def mark_complete(folder: Path, step: int) -> None:
    """Flush every file of the checkpoint to disk, then write the marker that makes it count."""
    files = _files(folder)
    for name in files:
        with open(folder / name, "rb") as f:
            os.fsync(f.fileno())
    write_json(folder / MARKER, {"global_step": step, "files": files})


def problem(folder: Path, marked_run: bool) -> str | None:
    """Why `folder` cannot be resumed from; None if it can.

    `marked_run`: other checkpoints of this run carry a marker, so one without it was cut short.
    A checkpoint written before knowtune wrote markers counts if its files look complete.
    """
    marker = folder / MARKER
    if marker.is_file():
        try:
            listed = json.loads(marker.read_text(encoding="utf-8"))["files"]
        except (OSError, ValueError, KeyError, TypeError):
            return f"its {MARKER} is unreadable"
        for name, size in listed.items():
            path = folder / name
            if not path.is_file():
                return f"{name} is missing"
            if path.stat().st_size != size:
                return f"{name} has {path.stat().st_size} bytes, {size} were written"
    elif marked_run:
        return f"no {MARKER}: the save did not finish"
    try:
        json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))["global_step"]
    except FileNotFoundError:
        return "no trainer_state.json: the save did not finish"
    except (OSError, ValueError, KeyError, TypeError):
        return "trainer_state.json is unreadable"
    weights = sorted(folder.glob("*.safetensors"))
    if not weights and not list(folder.glob("*.bin")) and not list(folder.glob("global_step*")):
        return "no weights file"
    for path in weights:
        if reason := _safetensors_problem(path):
            return f"{path.name}: {reason}"
    return None


def _safetensors_problem(path: Path) -> str | None:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), "pt"):  # checks the header and that the data covers what it announces
            return None
    except (SafetensorError, OSError) as e:
        return str(e).splitlines()[0] if str(e) else type(e).__name__


def step_of(folder: Path) -> int:
    return int(folder.name.rsplit("-", 1)[1])


def last_complete(checkpoints: Path) -> Path | None:
    """The newest checkpoint-N in `checkpoints` that can be resumed from; newer broken ones are reported."""
    if not checkpoints.is_dir():
        return None
    found = [p for p in checkpoints.glob(f"{PREFIX_CHECKPOINT_DIR}-*") if p.is_dir() and p.name.rsplit("-", 1)[1].isdigit()]
    marked_run = any((p / MARKER).is_file() for p in found)
    for folder in sorted(found, key=step_of, reverse=True):
        reason = problem(folder, marked_run)
        if reason is None:
            return folder
        message = f"skipping checkpoint {folder}: {reason}"
        print(f"knowtune: {message}", file=sys.stderr, flush=True)
        log.warning(message)
    return None


def _distributed() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class CommitMarker(TrainerCallback):
    """After each checkpoint save: wait for every rank, then mark the checkpoint complete."""

    def on_save(self, args, state, control, **kwargs):
        if _distributed():
            import torch.distributed as dist

            dist.barrier()  # every rank has written its shards and RNG state
        if args.should_save:
            mark_complete(Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}", state.global_step)


class StopOnSigterm(TrainerCallback):
    """SIGTERM (pre-emption) asks for a checkpoint at the next step boundary, then the end of training.

    The handler only sets a flag: the step under way finishes, and the save happens in the Trainer's
    own loop. In a distributed run the ranks agree on the flag every step, so they all save together.
    """

    def __init__(self):
        self.requested = False

    def _handle(self, signum, frame):
        self.requested = True

    def on_step_end(self, args, state, control, **kwargs):
        stop = self.requested
        if _distributed():
            import torch
            import torch.distributed as dist

            flag = torch.tensor([float(stop)], device=args.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            stop = bool(flag.item())
        if stop:
            self.requested = True
            control.should_save = True
            control.should_training_stop = True

    @contextmanager
    def installed(self):
        """Handle SIGTERM while training (only the main thread can own a signal handler)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = signal.signal(signal.SIGTERM, self._handle)
        try:
            yield self
        finally:
            signal.signal(signal.SIGTERM, previous)


def exit_preempted(state, total: int, checkpoints: Path) -> None:
    """End the process after a SIGTERM that stopped training early, naming the checkpoint to resume from."""
    step = state.global_step
    message = (f"knowtune: stopped by SIGTERM at step {step} of {total}; checkpoint saved in "
               f"{checkpoints / f'{PREFIX_CHECKPOINT_DIR}-{step}'}; continue with resume=auto")
    print(message, file=sys.stderr, flush=True)
    log.warning(message)
    raise SystemExit(128 + signal.SIGTERM)
