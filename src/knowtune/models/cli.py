"""`knowtune models list|prepare`: the shipped models and their conversion into the cache."""

from __future__ import annotations

import argparse


def cmd_models_list(args: argparse.Namespace) -> int:
    from knowtune.models.shipped import SHIPPED_MODELS, shipped_model_dir

    for alias, m in SHIPPED_MODELS.items():
        path = shipped_model_dir(alias, args.cache_dir)
        state = f"prepared at {path}" if (path / "config.json").is_file() else "not prepared yet (knowtune models prepare)"
        print(f"{alias}\t{m.description}\t{state}")
    return 0


def cmd_models_prepare(args: argparse.Namespace) -> int:
    from knowtune.models.shipped import DEFAULT_MODEL, prepare_shipped_model

    for alias in args.aliases or [DEFAULT_MODEL]:
        path = prepare_shipped_model(alias, args.cache_dir, force=args.force)
        print(f"{alias}: {path}")
    return 0


def add_models_parser(sub: argparse._SubParsersAction) -> None:
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
