"""The run directory: created (or resumed) safely, and filled with what reproduces the run."""

from __future__ import annotations

import importlib.metadata
import logging
import os
import platform
import shlex
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path

from knowtune.config import to_yaml
from knowtune.errors import UserError
from knowtune.fileio import write_atomic
from knowtune.train.config import TrainConfig

log = logging.getLogger("knowtune")


def last_checkpoint(checkpoints: Path) -> Path | None:
    """The newest complete checkpoint (resume=auto); partial or corrupt newer ones are reported and skipped."""
    from knowtune.train.checkpoints import last_complete

    return last_complete(checkpoints)


def prepare(cfg: TrainConfig) -> tuple[Path, Path | None]:
    """Return the run directory and the checkpoint to resume from (None = fresh start).

    An existing run directory is never overwritten silently: it needs `resume` or `overwrite`.
    """
    run_dir = Path(cfg.base_output_dir) / cfg.experiment_name
    exists = run_dir.exists() and any(run_dir.iterdir())
    resume_from = None
    if cfg.resume == "auto":
        resume_from = last_checkpoint(run_dir / "checkpoints")
    elif cfg.resume:
        from knowtune.train.checkpoints import MARKER, problem

        resume_from = Path(cfg.resume)
        if not resume_from.is_dir():
            raise UserError(f"resume={cfg.resume}: no such checkpoint directory")
        marked_run = any((p / MARKER).is_file() for p in resume_from.parent.iterdir() if p.is_dir())
        if reason := problem(resume_from, marked_run):
            raise UserError(f"resume={cfg.resume}: not a complete checkpoint ({reason})")
    elif exists and not cfg.overwrite:
        raise UserError(
            f"run directory {run_dir} already exists; resume it with resume=auto, replace it with "
            f"--overwrite, or choose another experiment_name"
        )
    elif exists:
        shutil.rmtree(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create the run directory {run_dir}: {e.strerror} (check base_output_dir)") from None
    return run_dir, resume_from


def record(run_dir: Path, cfg: TrainConfig, model_path: str, command: list[str] | None = None) -> None:
    """Write config.yaml, train_command.txt and environment_info.txt."""
    write_atomic(run_dir / "config.yaml", f"# resolved config; model loaded from {model_path}\n" + to_yaml(cfg))
    with open(run_dir / "train_command.txt", "a", encoding="utf-8") as f:
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        f.write(f"# {stamp} in {os.getcwd()}\n{shlex.join(command or sys.argv)}\n")
    write_atomic(run_dir / "environment_info.txt", environment_info())


def environment_info() -> str:
    import torch

    lines = [
        f"python: {sys.version.split()[0]}",
        f"platform: {platform.platform()}",
        f"cpu_count: {os.cpu_count()}",
        f"torch_threads: {torch.get_num_threads()}",
    ]
    for pkg in ["knowtune", "torch", "transformers", "peft", "trl", "accelerate", "datasets", "bitsandbytes", "deepspeed"]:
        try:
            lines.append(f"{pkg}: {importlib.metadata.version(pkg)}")
        except importlib.metadata.PackageNotFoundError:
            lines.append(f"{pkg}: not installed")
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            lines.append(f"cuda:{i}: {torch.cuda.get_device_name(i)}")
    else:
        lines.append("cuda: not available")
    # Set by torchrun / accelerate launch (and CUDA_VISIBLE_DEVICES by gpu_ids / gpu_type).
    for name in ["WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "CUDA_VISIBLE_DEVICES"]:
        if name in os.environ:
            lines.append(f"{name}: {os.environ[name]}")
    return "\n".join(lines) + "\n"


def attach_log_file(run_dir: Path) -> logging.Handler:
    """Send knowtune's and transformers' log records to training.log (appending on resume)."""
    import transformers

    handler = logging.FileHandler(run_dir / "training.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    transformers.utils.logging.add_handler(handler)
    return handler


def detach_log_file(handler: logging.Handler) -> None:
    import transformers

    log.removeHandler(handler)
    transformers.utils.logging.remove_handler(handler)
    handler.close()
