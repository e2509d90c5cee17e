"""Learn the new facts without forgetting the old: the naive recipe versus knowtune's default.

Same data (the demo's training Q&A about eight invented facts), same machine, one run:
  naive   LoRA r=16 on all linear layers, lr 1e-3, batch 8, 6 epochs, the last epoch's weights
          (the plain PEFT loop of issue 9);
  default knowtune's knowledge-update recipe (knowtune.experiments.job.RECIPE, docs/recipe.md):
          the same LoRA plus replay of the base model's own answers and checkpoint selection on
          held-out accuracy within a retention tolerance.
Each tuned model then answers the held-out paraphrases (facts learned) and the shipped
general-knowledge suite (knowledge kept, the base model's answers before training as reference).

    python benchmarks/knowledge_vs_forgetting.py [--json out.json]
    # try a change to the default recipe, without the naive run:
    python benchmarks/knowledge_vs_forgetting.py --only default --set replay.ratio=1.0 training.learning_rate=5e-4
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRAIN, HELDOUT = REPO / "examples/demo/train.jsonl", REPO / "examples/demo/heldout.jsonl"


def scores(model, tokenizer) -> dict:
    from knowtune.evaluate.eval_data import load_eval_dataset, suite_path
    from knowtune.evaluate.scoring import generation_metrics

    found = {}
    for name, path in (("heldout", str(HELDOUT)), ("retention", suite_path("general_knowledge.jsonl"))):
        # Retention on the suite's first 36 questions, those selection asks (and the README's figures).
        dataset = load_eval_dataset(path, "qa", name, max_samples=36 if name == "retention" else None)
        share = generation_metrics(model, tokenizer, dataset, batch_size=32, max_new_tokens=64)["contains"]
        found[name] = {"share": share, "right": round(share * len(dataset.items)), "n": len(dataset.items)}
    return found


def train(recipe: dict, name: str, out: Path) -> tuple[dict, float]:
    from knowtune.config import validate
    from knowtune.train.config import TrainConfig
    from knowtune.train.run import run

    cfg = validate(TrainConfig, {**recipe, "data": {**recipe.get("data", {}), "train": [str(TRAIN)]},
                                 "heldout": str(HELDOUT), "experiment_name": name, "base_output_dir": str(out)})
    started = time.monotonic()
    result = run(cfg, command=["benchmarks/knowledge_vs_forgetting.py", name])
    seconds = time.monotonic() - started
    return scores(result.model, result.tokenizer), seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=float, help="epochs for both recipes (default: the recipe's own; naive 6)")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--only", choices=("naive", "default"), help="run one recipe only")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", help="changes to the default recipe")
    args = parser.parse_args()

    from knowtune.experiments.job import RECIPE
    from knowtune.models import DEFAULT_MODEL, load_model, load_tokenizer, resolve_model

    path = resolve_model(DEFAULT_MODEL)
    base = scores(load_model(path), load_tokenizer(path))
    from knowtune.config import parse_override, set_path

    default = copy.deepcopy(RECIPE)
    if args.epochs:
        default["training"]["num_train_epochs"] = args.epochs
    for item in args.set:
        set_path(default, *parse_override(item))
    naive = {"method": "lora", "lora": {"r": 16, "alpha": 32, "dropout": 0.0, "target_modules": "all-linear"},
             "data": {"max_seq_length": 256},
             "training": {"learning_rate": 1e-3, "lr_scheduler_type": "constant", "num_train_epochs": args.epochs or 6,
                          "per_device_train_batch_size": 8, "save_total_limit": 1}}
    figures = {"model": DEFAULT_MODEL, "epochs": args.epochs, "changes": args.set, "base": base}
    recipes = [(name, recipe) for name, recipe in (("naive", naive), ("default", default)) if args.only in (None, name)]
    with tempfile.TemporaryDirectory() as out:
        for name, recipe in recipes:  # one after the other, same process
            found, seconds = train(recipe, name, Path(out))
            figures[name] = {**found, "seconds": seconds}

    print(f"\n{'recipe':8} {'held-out (facts learned)':>26} {'retention (kept)':>18} {'wall':>8}")
    for name in ["base"] + [name for name, _ in recipes]:
        f = figures[name]
        wall = f"{f['seconds']:.0f}s" if "seconds" in f else "-"
        print(f"{name:8} {f['heldout']['right']:>20}/{f['heldout']['n']:<5} "
              f"{f['retention']['right']:>12}/{f['retention']['n']:<5} {wall:>8}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
