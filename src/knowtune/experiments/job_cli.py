"""`knowtune run [CONFIG.yaml] [key=value ...] [--data_path DIR]`: the main job, documents to a tuned model."""

from __future__ import annotations

import argparse

FLAGS = {"data_path": str, "base_output_dir": str, "experiment_name": str}


def cmd_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from knowtune.config import split_config_and_overrides
    from knowtune.config import load_config
    from knowtune.experiments.job import RunConfig, run

    config, overrides = split_config_and_overrides(args.items)
    overrides += [f"{flag}={getattr(args, flag)}" for flag in FLAGS if getattr(args, flag) is not None]
    if args.overwrite:
        overrides.append("overwrite=true")
    base = {"experiment_name": Path(config).stem} if config else {}
    summary = run(load_config(RunConfig, config, overrides, base=base), command=args.command_line)
    return 0 if summary["passed"] or not args.strict else 1


def add_run_parser(sub) -> None:
    from knowtune.config import add_config_command
    from knowtune.experiments.job import RunConfig

    parser = add_config_command(
        sub, "run", RunConfig, cmd_run,
        "the main job: documents -> generate -> train (default recipe) -> evaluate before/after -> report",
        keys="config keys (set in the YAML or as key=value; train.* takes any `knowtune train` key)",
    )
    parser.add_argument("--data_path", metavar="DIR", help="documents to generate from (= data_path)")
    parser.add_argument("--base_output_dir", metavar="DIR", help="parent of the run directory (default runs)")
    parser.add_argument("--experiment_name", metavar="NAME", help="the run directory's name (default: the config's stem)")
    parser.add_argument("--overwrite", action="store_true", help="start over instead of continuing an existing run")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the verdict is FAIL")
