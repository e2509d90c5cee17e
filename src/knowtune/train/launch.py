"""`knowtune train --nproc_per_node N`: the same training, re-run by torchrun in N processes per node.

knowtune has no launcher of its own: it checks the request (devices, engine, node arguments), picks
the GPUs through CUDA_VISIBLE_DEVICES and runs `python -m torch.distributed.run ... -m knowtune train`
with the user's arguments minus the launch flags. `torchrun -m knowtune train ...` and
`accelerate launch -m knowtune train ...` work just as well; then the user picks the devices.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from dataclasses import dataclass

import torch

from knowtune.errors import UserError
from knowtune.train.config import TrainConfig
from knowtune.train.distributed import check_engine
from knowtune.train.gpus import choose_gpus, local_devices

# Read by `knowtune train` in the launched processes, so train_command.txt shows what the user typed.
COMMAND_ENV = "KNOWTUNE_LAUNCH_COMMAND"


@dataclass(frozen=True)
class LaunchFlags:
    nproc_per_node: int | None = None
    nnodes: int | None = None
    node_rank: int | None = None
    master_addr: str | None = None
    master_port: int | None = None


FLAG_NAMES = tuple(LaunchFlags.__dataclass_fields__)


def wanted(cfg: TrainConfig, flags: LaunchFlags) -> bool:
    """Whether this command starts processes through torchrun (never from inside a launched process)."""
    asked = any(getattr(flags, name) is not None for name in FLAG_NAMES)
    return asked or cfg.gpu_ids is not None or cfg.gpu_type is not None or cfg.distributed != "ddp"


def select_gpus(cfg: TrainConfig) -> list[str] | None:
    """CUDA_VISIBLE_DEVICES entries for gpu_ids / gpu_type (None = no choice: every visible GPU)."""
    if cfg.gpu_ids is None and cfg.gpu_type is None:
        return None
    key = "gpu_ids" if cfg.gpu_ids is not None else "gpu_type"
    if not torch.cuda.is_available():
        raise UserError(f"{key} chooses CUDA GPUs and this machine has none; leave {key} out to train on the CPU")
    return choose_gpus(local_devices(), cfg.gpu_ids, cfg.gpu_type)


def processes_per_node(cfg: TrainConfig, flags: LaunchFlags, gpus: list[str] | None) -> int:
    if flags.nproc_per_node is not None and flags.nproc_per_node < 1:
        raise UserError(f"--nproc_per_node must be at least 1, got {flags.nproc_per_node}")
    devices = (len(gpus) if gpus is not None else torch.cuda.device_count()) if torch.cuda.is_available() else None
    nproc = flags.nproc_per_node or devices or 1
    if devices is not None and nproc > devices:
        raise UserError(f"--nproc_per_node {nproc} asks for more processes than the {devices} GPUs chosen")
    return nproc


def torchrun_command(flags: LaunchFlags, nproc: int, train_args: list[str]) -> list[str]:
    """`python -m torch.distributed.run ... -m knowtune train <train_args>`."""
    nnodes = flags.nnodes or 1
    command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}"]
    if nnodes == 1 and flags.master_addr is None and flags.master_port is None:
        command.append("--standalone")  # one node: torchrun picks a free port itself
    else:
        if nnodes > 1 and flags.master_addr is None:
            raise UserError(f"--nnodes {nnodes} needs --master_addr, the address of the node with --node_rank 0")
        node_rank = flags.node_rank or 0
        if not 0 <= node_rank < nnodes:
            raise UserError(f"--node_rank {node_rank} must be between 0 and {nnodes - 1} (--nnodes {nnodes})")
        command += [f"--nnodes={nnodes}", f"--node_rank={node_rank}",
                    f"--master_addr={flags.master_addr or '127.0.0.1'}", f"--master_port={flags.master_port or 29500}"]
    return command + ["-m", "knowtune", "train", *train_args]


def without_launch_flags(argv: list[str]) -> list[str]:
    """The `knowtune train` arguments with the launch flags (and their values) taken out."""
    names = {f"--{name}" for name in FLAG_NAMES}
    kept, skip = [], False
    for item in argv:
        if skip:
            skip = False
        elif item in names:
            skip = True
        elif item.split("=", 1)[0] not in names:
            kept.append(item)
    return kept


def launch(cfg: TrainConfig, flags: LaunchFlags, command_line: list[str]) -> int:
    """Check, then run torchrun with this command's training arguments; its exit status is ours."""
    check_engine(cfg)
    gpus = select_gpus(cfg)
    nproc = processes_per_node(cfg, flags, gpus)
    command = torchrun_command(flags, nproc, without_launch_flags(command_line[2:]))
    env = dict(os.environ, **{COMMAND_ENV: shlex.join(command_line)})
    if gpus is not None:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
    where = f"GPUs {env['CUDA_VISIBLE_DEVICES']}" if gpus is not None else (
        "GPUs" if torch.cuda.is_available() else "CPU, gloo")
    print(f"Launching {nproc} processes per node ({cfg.distributed}, {where}): {shlex.join(command)}", flush=True)
    return subprocess.run(command, env=env).returncode
