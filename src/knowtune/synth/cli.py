"""`knowtune generate [CONFIG.yaml] [key=value ...] [seed 002 flags]`: documents to a curated QA dataset."""

from __future__ import annotations

import argparse

# Flags of seed 002's collect_data.py; each is the config key of the same name.
SEED_GENERATE_FLAGS = {
    "data_path": str,
    "file_type": str,
    "model_name_or_path": str,
    "model_type": str,
    "chunk_size_by_token": int,
    "qa_amount_per_fact": int,
    "role_amount_per_fact": int,
    "save_dir": str,
}


def cmd_generate(args: argparse.Namespace) -> int:
    from knowtune.config import split_config_and_overrides
    from knowtune.config import load_config
    from knowtune.errors import UserError
    from knowtune.synth.config import GenerateConfig
    from knowtune.synth.run import run

    config, overrides = split_config_and_overrides(args.items)
    overrides += [f"{flag}={getattr(args, flag)}" for flag in SEED_GENERATE_FLAGS if getattr(args, flag) is not None]
    result = run(load_config(GenerateConfig, config, overrides))
    t = result.coverage["totals"]
    print(
        f"{t['facts_covered']} of {t['facts_kept']} facts covered; {t['pairs_kept']} of {t['pairs_generated']} pairs "
        f"survived curation ({t['survival_rate']:.0%}): {t['train']} in train.jsonl, {t['heldout']} in heldout.jsonl"
    )
    if t["files_skipped"] or t["calls_skipped"]:
        print(f"skipped {t['files_skipped']} files and {t['calls_skipped']} model calls (listed in the report)")
    print(f"model calls this run: {result.model_calls} (the rest came from the cache)")
    print(f"report: {result.save_dir / 'coverage.md'}")
    if not t["train"]:
        report = result.save_dir / "coverage.md"
        raise UserError(f"no Q&A pair survived curation, so train.jsonl is empty; see {report}")
    return 0


def add_generate_parser(sub) -> None:
    from knowtune.config import add_config_command
    from knowtune.synth.config import GenerateConfig

    parser = add_config_command(
        sub, "generate", GenerateConfig, cmd_generate,
        "turn documents into a curated QA dataset (facts, persona Q&A, train/held-out split, coverage report)",
    )
    seed = parser.add_argument_group("flags of collect_data.py (aliases of the config keys of the same name)")
    for flag, kind in SEED_GENERATE_FLAGS.items():
        seed.add_argument(f"--{flag}", type=kind, metavar=kind.__name__.upper(), help=f"= {flag}")
