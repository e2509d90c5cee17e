"""knowtune's greedy answers vs `model.generate`, same questions, same model, same process.

    .venv/bin/python -u benchmarks/batched_generation.py [--questions 387] [--max_new_tokens 64]
        [--baseline_batch 32]

Answers the shipped general-knowledge suite (the retention suite every `knowtune run` asks) with
the default model, greedily, in length-sorted left-padded batches, two ways:

- baseline: `model.generate` in batches of `--baseline_batch` (knowtune's CPU default before its
  own decoder): every row runs until the batch's longest answer ends;
- knowtune: `knowtune.models.generate.generate_answers` at its default width (GENERATION_BATCH),
  where a row that ends leaves the batch and its KV cache.

The two alternate chunk by chunk (a chunk of GENERATION_BATCH questions one way, then the same
questions the other way), so a job that competes for the cores for a while slows both alike.
Prints seconds and answers/s of each, their ratio, and how many answers are identical.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from knowtune.evaluate.eval_data import load_eval_dataset, suite_path
from knowtune.models import DEFAULT_MODEL, load_model, load_tokenizer, resolve_model
from knowtune.models.generate import GENERATION_BATCH, generate_answers, render_prompt


def baseline(model, tokenizer, prompts, batch_size: int, max_new_tokens: int) -> list[str]:
    """`model.generate`, length-sorted left-padded batches (knowtune's path before its own decoder)."""
    texts = [render_prompt(tokenizer, p) for p in prompts]
    order = sorted(range(len(texts)), key=lambda i: len(tokenizer(texts[i], add_special_tokens=False)["input_ids"]),
                   reverse=True)
    answers = [""] * len(texts)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            ids = order[start:start + batch_size]
            batch = tokenizer([texts[i] for i in ids], add_special_tokens=False, padding=True, padding_side="left",
                              return_tensors="pt")
            out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                 eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
            decoded = tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
            for i, text in zip(ids, decoded):
                answers[i] = text.strip()
    return answers


def timed(work) -> tuple[float, list[str]]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=None, help="the suite's first N (default: all)")
    parser.add_argument("--max_new_tokens", type=int, default=64, help="default: knowtune eval's")
    parser.add_argument("--baseline_batch", type=int, default=32)
    args = parser.parse_args()

    load_at_start = os.getloadavg()[0]
    path = resolve_model(DEFAULT_MODEL)
    model, tokenizer = load_model(path), load_tokenizer(path)
    model.eval()
    prompts = [item.prompt for item in load_eval_dataset(suite_path("general_knowledge.jsonl"),
                                                           max_samples=args.questions).items]
    generate_answers(model, tokenizer, prompts[:2], max_new_tokens=4)  # warm-up: first-call costs stay out of both timings

    base_s = ours_s = 0.0
    base, ours = [], []
    for start in range(0, len(prompts), GENERATION_BATCH):
        chunk = prompts[start:start + GENERATION_BATCH]
        seconds, answers = timed(lambda: baseline(model, tokenizer, chunk, args.baseline_batch, args.max_new_tokens))
        base_s, base = base_s + seconds, base + answers
        seconds, answers = timed(lambda: generate_answers(model, tokenizer, chunk, max_new_tokens=args.max_new_tokens))
        ours_s, ours = ours_s + seconds, ours + answers

    n = len(prompts)
    lengths = [len(tokenizer(a, add_special_tokens=False)["input_ids"]) for a in ours]
    print(f"model {DEFAULT_MODEL}, {n} questions, greedy, max_new_tokens {args.max_new_tokens}, torch threads "
          f"{torch.get_num_threads()}, load average at start {load_at_start:.2f}, at end {os.getloadavg()[0]:.2f}")
    print(f"answers: mean {sum(lengths) / n:.1f} tokens, {sum(x >= args.max_new_tokens - 1 for x in lengths)} "
          f"ran to the limit")
    print(f"baseline: model.generate, batch {args.baseline_batch:<3}       {base_s:7.1f} s  {n / base_s:6.2f} answers/s")
    print(f"knowtune: rows leave at their end, batch {GENERATION_BATCH:<3} {ours_s:7.1f} s  {n / ours_s:6.2f} answers/s")
    print(f"speed-up: {base_s / ours_s:.2f}x; identical answers: {sum(a == b for a, b in zip(base, ours))}/{n}")


if __name__ == "__main__":
    main()
