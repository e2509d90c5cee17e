"""Checkpoint selection's questions as the trainer asks them now vs before, same model, same process.

    .venv/bin/python -u benchmarks/selection_decoding.py --run runs/NAME [--repeats 3] [--max_new_tokens 64]

At every evaluation during `knowtune run`, selection asks three sets: the run's dev questions
(`dev.jsonl`), the 36 suite questions the base model answers and the 36 it misses
(`selection_missed.jsonl`). This asks them of the run's chosen model (`final_model/`) three ways:

- baseline: the LoRA model as it trains (adapter unmerged), one `generate_answers` call per set
  (knowtune before this change);
- together: the same model, one call over all three sets' prompts;
- knowtune now: a merged copy of the model (the copy's time counted), one call over all three sets
  (GenerationEvalTrainer._answering_model), as the final evaluation loads the model.

They take turns `--repeats` times, so a job that competes for the cores for a while slows all alike.
Prints the seconds of each (the best and the sum), the ratios to the baseline and how many answers
are the baseline's.
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
from knowtune.train.trainer import RETENTION_SELECTION_QUESTIONS, lora_merged_copy


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
        model, tokenizer = load_trained(run / "final_model")
    except UserError as e:
        raise SystemExit(str(e)) from None
    model.eval()
    load_at_start = os.getloadavg()[0]
    prompts = [[item.prompt for item in dataset.items] for dataset in sets]
    everything = [p for part in prompts for p in part]
    generate_answers(model, tokenizer, everything[:2], max_new_tokens=4)  # warm-up, out of both timings

    def apart() -> list[str]:
        return [a for part in prompts for a in generate_answers(model, tokenizer, part, max_new_tokens=args.max_new_tokens)]

    def together() -> list[str]:
        return generate_answers(model, tokenizer, everything, max_new_tokens=args.max_new_tokens)

    def merged() -> list[str]:
        return generate_answers(lora_merged_copy(model), tokenizer, everything, max_new_tokens=args.max_new_tokens)

    ways = {"baseline: adapter, one call per set": apart, "together: adapter, one call": together,
            "knowtune: merged copy, one call": merged}
    times, answers = {name: [] for name in ways}, {}
    for _ in range(args.repeats):
        for name, way in ways.items():
            seconds, answers[name] = timed(way)
            times[name].append(seconds)

    sizes = " + ".join(str(len(part)) for part in prompts)
    print(f"run {run}, {sizes} questions (dev, suite answered, suite missed), greedy, max_new_tokens "
          f"{args.max_new_tokens}, batch {GENERATION_BATCH}, torch threads {torch.get_num_threads()}, load average at "
          f"start {load_at_start:.2f}, at end {os.getloadavg()[0]:.2f}")
    first = next(iter(ways))
    for name in ways:
        print(f"{name:<38} best {min(times[name]):6.1f} s  sum of {args.repeats} {sum(times[name]):6.1f} s  "
              f"{sum(times[first]) / sum(times[name]):.2f}x  answers as the baseline's: "
              f"{sum(a == b for a, b in zip(answers[first], answers[name]))}/{len(everything)}")


if __name__ == "__main__":
    main()
