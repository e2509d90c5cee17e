"""`knowtune <command>`: the commands of every package in one parser. User mistakes exit 2 with one line."""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from knowtune.deploy.cli import add_deploy_parsers
from knowtune.errors import UserError
from knowtune.evaluate.cli import add_eval_parser
from knowtune.experiments.cli import add_experiments_parsers
from knowtune.models.cli import add_models_parser
from knowtune.synth.cli import add_generate_parser
from knowtune.train.cli import add_train_parser


def build_parser() -> argparse.ArgumentParser:
    """Each package registers its own commands; this only assembles them, in the order --help lists them."""
    parser = argparse.ArgumentParser(prog="knowtune", description="Update what a language model knows.")
    sub = parser.add_subparsers(dest="command", required=True)
    add_train_parser(sub)
    add_models_parser(sub)
    add_eval_parser(sub)
    add_generate_parser(sub)
    add_experiments_parsers(sub)
    add_deploy_parsers(sub)
    return parser


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # "knowtune run demo.yaml --overwrite a.b=1": an override after a flag still belongs to the config items.
    if extra and isinstance(getattr(args, "items", None), list) and not any(e.startswith("-") for e in extra):
        args.items += extra
    elif extra:
        parser.parse_args(argv)  # argparse's own message (and exit 2) for what it does not know
    return args


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Library deprecation notices (transformers 5 renames) are for us, not for a user's terminal.
    warnings.filterwarnings("ignore", category=FutureWarning)
    args = parse(argv)
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
