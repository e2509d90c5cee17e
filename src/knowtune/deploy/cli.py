"""`knowtune export`, `knowtune chat`, `knowtune serve`: flags from the configs' fields, one line per user mistake."""

from __future__ import annotations

import argparse

from knowtune.deploy.export import ExportConfig
from knowtune.deploy.serve import ServeConfig


def _flags(parser: argparse.ArgumentParser, model, skip=("path",)) -> None:
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        flag = f"--{name.replace('_', '-')}"
        default = field.get_default(call_default_factory=True)
        if field.annotation is bool:
            # Every boolean here is on by default; the flag turns it off.
            parser.add_argument(f"--no-{name.replace('_', '-')}", dest=name, action="store_false", default=None,
                                help=f"skip this: {field.description}")
        elif name == "questions":
            parser.add_argument(flag, dest=name, action="append", metavar="FILE", help=field.description)
        else:
            parser.add_argument(flag, dest=name, metavar=name.upper(), default=None,
                                help=f"{field.description} (default: {default})")


def _config(model, args: argparse.Namespace, command: str):
    from knowtune.config import validate

    given = {name: getattr(args, name) for name in model.model_fields if getattr(args, name, None) is not None}
    return validate(model, given, command)


def cmd_export(args: argparse.Namespace) -> int:
    from knowtune.deploy.export import run_export

    run_export(_config(ExportConfig, args, "knowtune export"))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from knowtune.deploy.serve import run_serve

    run_serve(_config(ServeConfig, args, "knowtune serve"))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from knowtune.deploy.chat import run_chat

    run_chat(args.path, compare_base=args.compare_base, max_new_tokens=args.max_new_tokens)
    return 0


def add_deploy_parsers(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser("export", help="export a run's model (merged, GGUF, Ollama), checked on its questions",
                            description=ExportConfig.model_fields["path"].description)
    export.add_argument("path", metavar="RUN_DIR|MODEL")
    _flags(export, ExportConfig)
    export.set_defaults(func=cmd_export)

    chat = sub.add_parser("chat", help="chat with a tuned model in the terminal (streaming, history, /reset, /exit)")
    chat.add_argument("path", metavar="RUN_DIR|MODEL")
    chat.add_argument("--compare-base", dest="compare_base", action="store_true",
                      help="ask the base model each message too and show its reply first")
    chat.add_argument("--max-new-tokens", dest="max_new_tokens", type=int, default=256, help="longest reply (tokens)")
    chat.set_defaults(func=cmd_chat)

    serve = sub.add_parser("serve", help="an OpenAI-compatible API over the model's checked GGUF (llama.cpp)")
    serve.add_argument("path", metavar="RUN_DIR|MODEL|FILE.gguf")
    _flags(serve, ServeConfig)
    serve.set_defaults(func=cmd_serve)
