"""`knowtune <command>`: parse, validate, call a stage's run(). User mistakes exit 2 with one line."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import warnings
from pathlib import Path

from knowtune.deploy.cli import add_deploy_parsers
from knowtune.errors import UserError
from knowtune.evaluate.cli import add_eval_parser
from knowtune.experiments.budget import add_budget_parser
from knowtune.experiments.compare import add_compare_parser
from knowtune.experiments.converge import add_converge_parser
from knowtune.experiments.status import add_status_parser
from knowtune.experiments.pipeline import add_pipeline_parser
from knowtune.experiments.sweep import add_sweep_parser
from knowtune.synth.cli import add_generate_parser
from knowtune.experiments.job_cli import add_run_parser

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


def split_config_and_overrides(items: list[str], required: str | None = None) -> tuple[str | None, list[str]]:
    """(the config file, the key=value overrides); `required` names the file a command cannot do without."""
    config, overrides = None, []
    for item in items:
        if "=" in item:
            overrides.append(item)
        elif config is None:
            config = item
        else:
            raise UserError(f"unexpected argument '{item}': give one config file, then key=value overrides")
    if config is None and required:
        raise UserError(f"give {required}")
    return config, overrides


def cmd_train(args: argparse.Namespace) -> int:
    from knowtune.config import load_config
    from knowtune.train.config import TrainConfig
    from knowtune.train.distributed import in_launched_process
    from knowtune.train.launch import COMMAND_ENV, FLAG_NAMES, LaunchFlags, launch, wanted

    config, overrides = split_config_and_overrides(args.items)
    for flag, (key, kind) in SEED_TRAIN_FLAGS.items():
        value = getattr(args, flag)
        if kind is list and value is not None:
            overrides.append(f"{key}=[{', '.join(value)}]")
        elif value is not None and value is not False:
            overrides.append(f"{key}={str(value).lower() if kind is bool else value}")
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


def cmd_models_list(args: argparse.Namespace) -> int:
    from knowtune.models import SHIPPED_MODELS, shipped_model_dir

    for alias, m in SHIPPED_MODELS.items():
        path = shipped_model_dir(alias, args.cache_dir)
        state = f"prepared at {path}" if (path / "config.json").is_file() else "not prepared yet (knowtune models prepare)"
        print(f"{alias}\t{m.description}\t{state}")
    return 0


def cmd_models_prepare(args: argparse.Namespace) -> int:
    from knowtune.models import DEFAULT_MODEL, prepare_shipped_model

    for alias in args.aliases or [DEFAULT_MODEL]:
        path = prepare_shipped_model(alias, args.cache_dir, force=args.force)
        print(f"{alias}: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="knowtune", description="Update what a language model knows.")
    sub = parser.add_subparsers(dest="command", required=True)

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

    models = sub.add_parser("models", help="list or prepare the shipped models")
    msub = models.add_subparsers(dest="models_command", required=True)
    mlist = msub.add_parser("list", help="shipped model aliases and whether they are prepared")
    mlist.add_argument("--cache_dir", help="cache directory (default $KNOWTUNE_CACHE or ~/.cache/knowtune)")
    mlist.set_defaults(func=cmd_models_list)
    prep = msub.add_parser("prepare", help="convert a shipped GGUF model once into a safetensors directory")
    prep.add_argument("aliases", nargs="*", help="model aliases (default: the default model)")
    prep.add_argument("--cache_dir", help="cache directory (default $KNOWTUNE_CACHE or ~/.cache/knowtune)")
    prep.add_argument("--force", action="store_true", help="convert again even if prepared")
    prep.set_defaults(func=cmd_models_prepare)
    add_eval_parser(sub)
    add_generate_parser(sub)
    add_run_parser(sub)
    add_compare_parser(sub)
    add_converge_parser(sub)
    add_budget_parser(sub)
    add_status_parser(sub)
    add_sweep_parser(sub)
    add_pipeline_parser(sub)
    add_deploy_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Library deprecation notices (transformers 5 renames) are for us, not for a user's terminal.
    warnings.filterwarnings("ignore", category=FutureWarning)
    args = build_parser().parse_args(argv)
    args.command_line = ["knowtune", *(sys.argv[1:] if argv is None else argv)]
    try:
        return args.func(args)
    except UserError as e:
        print(f"knowtune: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("knowtune: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
