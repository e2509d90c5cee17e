"""`knowtune train`: parse, launch through torchrun when asked, run. Seed 000's flags kept as config aliases."""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path

from knowtune.config import split_config_and_overrides

# Flags of seed 000's train_qwen_multi_gpu.py, kept working as aliases of config keys.
SEED_TRAIN_FLAGS = {
    "model_name_or_path": ("model", str),
    "learning_rate": ("training.learning_rate", float),
    "per_device_train_batch_size": ("training.per_device_train_batch_size", int),
    "gradient_accumulation_steps": ("training.gradient_accumulation_steps", int),
    "max_steps": ("training.max_steps", int),
    "num_train_epochs": ("training.num_train_epochs", float),
    "gradient_checkpointing": ("training.gradient_checkpointing", bool),
    "experiment_name": ("experiment_name", str),
    "base_output_dir": ("base_output_dir", str),
    "dataset_name": ("data.train", str),
    "text_column": ("data.text_column", str),
    "max_seq_length": ("data.max_seq_length", int),
    "dataset_size": ("data.dataset_size", int),
    "validation_split_percentage": ("data.validation_split_percentage", float),
    "cache_dir": ("cache_dir", str),
    "save_steps": ("training.save_steps", int),
    "seed": ("training.seed", int),
    "gpu_ids": ("gpu_ids", list),
    "gpu_type": ("gpu_type", str),
    "ddp_timeout": ("ddp_timeout", int),
    "stage": ("start_stage", int),
    "rope_theta": ("rope_theta", float),
    "no_rope_layers": ("no_rope_layers", list),
}


def seed_overrides(args: argparse.Namespace) -> list[str]:
    """The seed flags given, as key=value overrides; --output_dir DIR is the run directory itself."""
    overrides = []
    for flag, (key, kind) in SEED_TRAIN_FLAGS.items():
        value = getattr(args, flag)
        if kind is list and value is not None:
            overrides.append(f"{key}=[{', '.join(value)}]")
        elif value is not None and value is not False:
            overrides.append(f"{key}={str(value).lower() if kind is bool else value}")
    if args.output_dir:
        run_dir = Path(args.output_dir)
        overrides += [f"base_output_dir={run_dir.parent}", f"experiment_name={run_dir.name}"]
    return overrides


def cmd_train(args: argparse.Namespace) -> int:
    from knowtune.config import load_config
    from knowtune.train.config import TrainConfig
    from knowtune.train.distributed import in_launched_process
    from knowtune.train.launch import COMMAND_ENV, FLAG_NAMES, LaunchFlags, launch, wanted

    config, overrides = split_config_and_overrides(args.items)
    overrides += seed_overrides(args)
    if args.overwrite:
        overrides.append("overwrite=true")
    if args.resume:
        overrides.append(f"resume={args.resume}")
    base = {"experiment_name": Path(config).stem} if config else {}
    cfg = load_config(TrainConfig, config, overrides, base=base)
    flags = LaunchFlags(**{name: getattr(args, name) for name in FLAG_NAMES})
    if wanted(cfg, flags) and not in_launched_process():
        return launch(cfg, flags, args.command_line)
    from knowtune.train.run import run  # after the launch: the launcher itself needs no trainer

    # In a process knowtune launched, record the command the user typed, launch flags included.
    launched_by_us = in_launched_process() and COMMAND_ENV in os.environ
    run(cfg, command=shlex.split(os.environ[COMMAND_ENV]) if launched_by_us else args.command_line)
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        # Every rank got here: the run is done. Left to the interpreter's exit, gloo's worker threads
        # outlive the process group and abort the process ("terminate called without an active
        # exception"), and torchrun then reports a finished run as failed.
        dist.destroy_process_group()
    return 0


def add_train_parser(sub: argparse._SubParsersAction) -> None:
    from knowtune.config import add_config_command
    from knowtune.train.config import TrainConfig

    train = add_config_command(sub, "train", TrainConfig, cmd_train, "fine-tune a model (LoRA, QLoRA, full, freeze)")
    train.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    train.add_argument("--resume", metavar="auto|PATH", help="continue from the latest (auto) or a given checkpoint")
    torchrun = train.add_argument_group("launch through torchrun (as its flags of the same names)")
    torchrun.add_argument("--nproc_per_node", type=int, metavar="N", help="processes per node (default: one per chosen GPU; 1 on a CPU)")
    torchrun.add_argument("--nnodes", type=int, metavar="N", help="number of machines")
    torchrun.add_argument("--node_rank", type=int, metavar="I", help="this machine's rank, 0 to nnodes-1")
    torchrun.add_argument("--master_addr", metavar="HOST", help="address of the machine with node_rank 0")
    torchrun.add_argument("--master_port", type=int, metavar="PORT", help="its port (default 29500)")
    seed = train.add_argument_group("flags of train_qwen_multi_gpu.py (aliases of config keys)")
    for flag, (key, kind) in SEED_TRAIN_FLAGS.items():
        if kind is bool:
            seed.add_argument(f"--{flag}", action="store_true", help=f"= {key}=true")
        elif kind is list:
            seed.add_argument(f"--{flag}", nargs="+", metavar="N", help=f"= {key}")
        else:
            seed.add_argument(f"--{flag}", type=kind, metavar=kind.__name__.upper(), help=f"= {key}")
    seed.add_argument("--output_dir", metavar="DIR", help="the run directory: = base_output_dir=DIR's parent, "
                      "experiment_name=DIR's name")
