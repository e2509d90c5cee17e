"""Checkpoint selection's questions decoded in one pass vs one set after another, same model, same process.

    .venv/bin/python -u benchmarks/selection_decoding.py --run runs/NAME [--repeats 3] [--max_new_tokens 64]

At every evaluation during `knowtune run`, selection asks three sets: the run's dev questions
(`dev.jsonl`), the 36 suite questions the base model answers and the 36 it misses
(`selection_missed.jsonl`). This asks them of the run's chosen model (`final_model/`, merged) two ways:

- baseline: one `generate_answers` call per set (knowtune before generation_metrics_together);
- together: one call over all three sets' prompts, as the trainer now does.

The two take turns `--repeats` times, so a job that competes for the cores for a while slows both
alike. Prints the seconds of each (the best and the sum), their ratio and how many answers are identical.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from batched_generation import timed
from knowtune.errors import UserError
from knowtune.evaluate.eval_data import load_eval_dataset, suite_path
from knowtune.models.generate import GENERATION_BATCH, generate_answers
from knowtune.models.loading import load_trained
from knowtune.train.trainer import RETENTION_SELECTION_QUESTIONS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="a `knowtune run` directory (dev.jsonl, selection_missed.jsonl)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max_new_tokens", type=int, default=64, help="default: selection's")
    args = parser.parse_args()

    run = Path(args.run)
    missing = [name for name in ("dev.jsonl", "selection_missed.jsonl", "final_model") if not (run / name).exists()]
    if missing:
        raise SystemExit(f"{run}: no {', '.join(missing)}; give the directory of a `knowtune run` with documents")
    try:
        sets = [load_eval_dataset(str(run / "dev.jsonl"), "qa"),
                load_eval_dataset(suite_path("general_knowledge.jsonl"), "qa", max_samples=RETENTION_SELECTION_QUESTIONS),
                load_eval_dataset(str(run / "selection_missed.jsonl"), "qa")]
        model, tokenizer = load_trained(run / "final_model", merge=True)
    except UserError as e:
        raise SystemExit(str(e)) from None
    model.eval()
    load_at_start = os.getloadavg()[0]
    prompts = [[item.prompt for item in dataset.items] for dataset in sets]
    everything = [p for part in prompts for p in part]
    generate_answers(model, tokenizer, everything[:2], max_new_tokens=4)  # warm-up, out of both timings

    def apart() -> list[str]:
        return [a for part in prompts for a in generate_answers(model, tokenizer, part, max_new_tokens=args.max_new_tokens)]

    times = {"apart": [], "together": []}
    for _ in range(args.repeats):
        seconds, separate = timed(apart)
        times["apart"].append(seconds)
        seconds, joint = timed(lambda: generate_answers(model, tokenizer, everything, max_new_tokens=args.max_new_tokens))
        times["together"].append(seconds)

    sizes = " + ".join(str(len(part)) for part in prompts)
    print(f"run {run}, {sizes} questions (dev, suite answered, suite missed), greedy, max_new_tokens "
          f"{args.max_new_tokens}, batch {GENERATION_BATCH}, torch threads {torch.get_num_threads()}, load average at "
          f"start {load_at_start:.2f}, at end {os.getloadavg()[0]:.2f}")
    for name, label in (("apart", "baseline: one call per set"), ("together", "together: one call      ")):
        print(f"{label}  best {min(times[name]):6.1f} s  sum of {args.repeats} {sum(times[name]):6.1f} s")
    print(f"speed-up: {sum(times['apart']) / sum(times['together']):.2f}x; identical answers: "
          f"{sum(a == b for a, b in zip(separate, joint))}/{len(joint)}")


if __name__ == "__main__":
    main()
