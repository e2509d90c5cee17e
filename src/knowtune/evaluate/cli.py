"""`knowtune eval`: one flag per EvalConfig field, its help taken from the field's description."""

from __future__ import annotations

import argparse
import typing

from knowtune.evaluate.config import EvalConfig

USAGE = """\
knowtune eval --model_path MODEL|ADAPTER|RUN --datasets PATH[:METRIC] ... [--use_default_datasets] [--compare-base]
       knowtune eval --predictions FILE.jsonl[:METRIC] ... [--output_dir DIR]"""


def _flag_kind(annotation) -> str:
    if annotation is bool:
        return "bool"
    if typing.get_origin(annotation) is list:
        return "list"
    return "value"


def add_eval_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "eval",
        help="evaluate a model, an adapter or a run (QA, perplexity, extraction), or score a predictions file",
        usage=USAGE,
        description="Evaluate a model on datasets; results.json, report.md, predictions/ and TensorBoard "
        "scalars go to --output_dir (default <run>/eval).",
    )
    for name, field in EvalConfig.model_fields.items():
        default = field.get_default(call_default_factory=True)
        flags = [f"--{name}"] + ([f"--{name.replace('_', '-')}"] if name == "compare_base" else [])
        kind = _flag_kind(field.annotation)
        if kind == "bool":
            parser.add_argument(*flags, dest=name, action="store_true", default=None, help=field.description)
        elif kind == "list":
            parser.add_argument(*flags, dest=name, nargs="+", metavar="PATH", help=field.description)
        else:
            shown = f" (default: {default})" if default is not None else ""
            parser.add_argument(*flags, dest=name, metavar=name.upper(), help=f"{field.description}{shown}")
    parser.set_defaults(func=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    from knowtune.config import validate
    from knowtune.evaluate.run import run

    given = {name: getattr(args, name) for name in EvalConfig.model_fields if getattr(args, name) is not None}
    cfg = validate(EvalConfig, given, "knowtune eval")
    run(cfg, command=args.command_line)
    return 0
