"""Retention questions answered to the end vs ended once an accepted answer is written, same model, same process.

    .venv/bin/python -u benchmarks/answers_until_answered.py --run runs/NAME [--repeats 2]

What a `knowtune run` asks for its retention verdict and its checkpoint selection, both scored by
`contains` only (docs/evaluation.md, Generation), asked of the run's chosen model (`final_model/`, a
merged copy, as both load it on a CPU) two ways:

- whole answers (knowtune before this change, and `suite_whole_answers=true`): every answer runs to
  its end-of-turn token or max_new_tokens;
- ended when answered (knowtune now): an answer ends once it holds an accepted answer
  (`knowtune.evaluate.scoring.answered_check`).

Two workloads: the final evaluation's pass over the whole suite (387 questions) and one selection
evaluation (dev, the 36 suite questions the base model answers, the 36 it misses, in one pass).
They take turns `--repeats` times. Prints seconds (best and sum), the ratio, and whether the
`contains` of every suite question and each selection set's share are the same both ways.

    .venv/bin/python -u benchmarks/answers_until_answered.py --stored "runs/*/eval/predictions/**/general_knowledge.jsonl"

cuts every stored whole answer of those files where `answered_check` would have ended it and counts
the answers whose `contains` changes (it must be none).
"""

from __future__ import annotations

import argparse
import io
import json
import os
from pathlib import Path

import torch

from batched_generation import timed
from knowtune.errors import UserError
from knowtune.evaluate.eval_data import load_eval_dataset, suite_path
from knowtune.evaluate.scoring import evaluate_dataset, generation_metrics_together
from knowtune.models.generate import GENERATION_BATCH
from knowtune.models.loading import load_trained
from knowtune.train.trainer import RETENTION_SELECTION_QUESTIONS, lora_merged_copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", help="a `knowtune run` directory (dev.jsonl, selection_missed.jsonl)")
    parser.add_argument("--stored", help="a glob of predictions files of whole answers to cut and score again")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--max_new_tokens", type=int, default=64, help="default: the evaluation's")
    args = parser.parse_args()
    if args.stored:
        return stored(args.stored)
    if not args.run:
        raise SystemExit("give --run or --stored")

    run = Path(args.run)
    missing = [name for name in ("dev.jsonl", "selection_missed.jsonl", "final_model") if not (run / name).exists()]
    if missing:
        raise SystemExit(f"{run}: no {', '.join(missing)}; give the directory of a `knowtune run` with documents")
    try:
        suite = load_eval_dataset(suite_path("general_knowledge.jsonl"), "qa")
        selection = [load_eval_dataset(str(run / "dev.jsonl"), "qa"),
                     load_eval_dataset(suite_path("general_knowledge.jsonl"), "qa",
                                       max_samples=RETENTION_SELECTION_QUESTIONS),
                     load_eval_dataset(str(run / "selection_missed.jsonl"), "qa")]
        model, tokenizer = load_trained(run / "final_model")
    except UserError as e:
        raise SystemExit(str(e)) from None
    model = lora_merged_copy(model)
    model.eval()
    load_at_start = os.getloadavg()[0]

    def ended(flag: bool) -> None:
        for dataset in [suite, *selection]:
            dataset.ends_when_answered = flag

    def whole_suite(flag: bool):
        def ask():
            ended(flag)
            sink = io.StringIO()
            evaluate_dataset(model, tokenizer, suite, batch_size=GENERATION_BATCH, max_new_tokens=args.max_new_tokens,
                             sink=sink)
            lines = [json.loads(line) for line in sink.getvalue().splitlines()]
            return {line["index"]: line["contains"] for line in lines}, sum(len(line["prediction"]) for line in lines)
        return ask

    def one_selection(flag: bool):
        def ask():
            ended(flag)
            return [m["contains"] for m in generation_metrics_together(
                model, tokenizer, selection, batch_size=GENERATION_BATCH, max_new_tokens=args.max_new_tokens)], 0
        return ask

    workloads = {f"final evaluation, suite ({len(suite.items)})": whole_suite,
                 "selection, " + " + ".join(str(len(d.items)) for d in selection) + " (dev, answered, missed)":
                     one_selection}
    print(f"run {run}, greedy, max_new_tokens {args.max_new_tokens}, batch {GENERATION_BATCH}, torch threads "
          f"{torch.get_num_threads()}, load average at start {load_at_start:.2f}")
    for name, workload in workloads.items():
        times, found = {True: [], False: []}, {}
        for _ in range(args.repeats):
            for flag in (False, True):
                seconds, found[flag] = timed(workload(flag))
                times[flag].append(seconds)
        chars = f"; answers' characters {found[False][1]} -> {found[True][1]}" if found[False][1] else ""
        print(f"{name}: whole answers best {min(times[False]):.1f} s (sum {sum(times[False]):.1f}), ended when "
              f"answered best {min(times[True]):.1f} s (sum {sum(times[True]):.1f}), "
              f"{sum(times[False]) / sum(times[True]):.2f}x; contains the same: {found[False][0] == found[True][0]}"
              f"{chars}")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


def stored(pattern: str) -> None:
    import glob

    from knowtune.evaluate.qa_metrics import contains
    from knowtune.evaluate.scoring import answered_check
    from knowtune.models import load_tokenizer, resolve_model

    tokenizer = load_tokenizer(resolve_model("smollm2-135m-instruct"))
    files, answers, ended, changed, kept = 0, 0, 0, 0, 0
    for path in sorted(glob.glob(pattern, recursive=True)):
        lines = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]
        if not lines or "prediction" not in lines[0]:
            continue
        files += 1
        for line in lines:
            ids = tokenizer(line["prediction"], add_special_tokens=False)["input_ids"]
            check = answered_check(tokenizer, line["answers"])
            end = next((k for k in range(1, len(ids) + 1) if check(ids[:k])), None)
            answers += 1
            if end is not None:
                ended += 1
                kept += len(ids) - end
                cut = tokenizer.decode(ids[:end], skip_special_tokens=True)
                changed += contains(cut, line["answers"]) != contains(line["prediction"], line["answers"])
    print(f"{files} files, {answers} whole answers, {ended} would have ended early ({kept} tokens not written); "
          f"contains changed: {changed}")


if __name__ == "__main__":
    main()
