"""Batched generation vs one question at a time, same questions, same model, same process.

    .venv/bin/python benchmarks/batched_generation.py [--batch_size 32] [--max_new_tokens 32]

Answers the shipped general-knowledge questions with the default model greedily, in left-padded,
length-sorted batches (knowtune.models.generate) and one at a time, and prints the samples per
second of each and their ratio. The two ways alternate batch by batch (a batch of questions, then
the same questions one by one), so a job that competes for the cores for a while slows both
alike instead of only whichever ran at the time.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from knowtune.evaluate.eval_data import load_eval_dataset, suite_path
from knowtune.models.generate import generate_batches, render_prompt
from knowtune.evaluate.run import CPU_GENERATION_BATCH
from knowtune.models import DEFAULT_MODEL, load_model, load_tokenizer, resolve_model


def timed(model, tokenizer, prompts, batch_size: int, max_new_tokens: int) -> tuple[float, list[str]]:
    answers = [""] * len(prompts)
    start = time.perf_counter()
    for ids, batch_answers, _ in generate_batches(model, tokenizer, prompts, batch_size, max_new_tokens):
        for i, answer in zip(ids, batch_answers):
            answers[i] = answer
    return time.perf_counter() - start, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch_size", type=int, default=CPU_GENERATION_BATCH, help="default: what auto uses on a CPU")
    parser.add_argument("--max_new_tokens", type=int, default=32)
    args = parser.parse_args()

    load_at_start = os.getloadavg()[0]
    path = resolve_model(DEFAULT_MODEL)
    model, tokenizer = load_model(path), load_tokenizer(path)
    # The suite's first 36 questions: the suite as it was when the README's figures were measured.
    prompts = [item.prompt for item in load_eval_dataset(suite_path("general_knowledge.jsonl"), max_samples=36).items]
    # The order batched evaluation uses (longest first), so each batch holds similar lengths.
    prompts.sort(key=lambda p: len(tokenizer(render_prompt(tokenizer, p), add_special_tokens=False)["input_ids"]), reverse=True)
    timed(model, tokenizer, prompts[:2], 2, 4)  # warm-up: first-call costs stay out of both timings

    batched_s = alone_s = 0.0
    same = 0
    for start in range(0, len(prompts), args.batch_size):
        chunk = prompts[start : start + args.batch_size]
        seconds, batched = timed(model, tokenizer, chunk, args.batch_size, args.max_new_tokens)
        batched_s += seconds
        seconds, alone = timed(model, tokenizer, chunk, 1, args.max_new_tokens)
        alone_s += seconds
        same += sum(a == b for a, b in zip(alone, batched))

    n = len(prompts)
    print(f"model {DEFAULT_MODEL}, {n} questions, greedy, max_new_tokens {args.max_new_tokens}, "
          f"torch threads {torch.get_num_threads()}, load average at start {load_at_start:.2f}, "
          f"at end {os.getloadavg()[0]:.2f}")
    print(f"one at a time:  {alone_s:7.1f} s  {n / alone_s:6.2f} samples/s")
    print(f"batch size {args.batch_size:<3}: {batched_s:7.1f} s  {n / batched_s:6.2f} samples/s")
    print(f"speed-up: {alone_s / batched_s:.2f}x; identical answers: {same}/{n}")


if __name__ == "__main__":
    main()
