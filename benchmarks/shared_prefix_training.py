"""Training steps with the shared prefix run once vs the whole batch run as it is, same batches, same process.

    .venv/bin/python -u benchmarks/shared_prefix_training.py [--steps 12] [--batch 8]

Every chat sample starts with the template's system prompt (SmolLM2: 24 tokens of a QA sample's
70-110). knowtune's training forward (`knowtune.train.loss.backbone_hidden`) runs those tokens once
per batch and repeats their keys and values for the rows. This times one forward and backward of
the default recipe's model (the shipped model, LoRA r=16 on the MLPs, float32) on batches of the
demo's QA pairs (`examples/demo/train.jsonl`) with long answers mixed in (the demo documents'
paragraphs, as replayed answers are longer than the facts), each batch both ways in turn (no
optimizer step, so both see the same weights), and prints seconds per step, their ratio and the
largest relative difference of the two gradients.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model

from knowtune.data.tokenize import IGNORE_INDEX, tokenize_chats
from knowtune.models import DEFAULT_MODEL, load_model, load_tokenizer, resolve_model
from knowtune.train import loss as knowtune_loss

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo"


def conversations() -> list[list[dict]]:
    pairs = [json.loads(line) for line in (DEMO / "train.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    chats = [[{"role": "user", "content": p["question"]}, {"role": "assistant", "content": p["answer"]}] for p in pairs]
    for doc in sorted((DEMO / "corpus").glob("*.md")):
        paragraphs = [p.strip() for p in doc.read_text(encoding="utf-8").split("\n\n") if p.strip() and not p.startswith("#")]
        chats += [[{"role": "user", "content": f"Tell me about {doc.stem.replace('_', ' ')}."},
                   {"role": "assistant", "content": p}] for p in paragraphs]
    return chats


def collate(ids: list[list[int]], labels: list[list[int]]) -> dict:
    width = max(len(x) for x in ids)
    return {"input_ids": torch.tensor([x + [0] * (width - len(x)) for x in ids]),
            "attention_mask": torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids]),
            "labels": torch.tensor([y + [IGNORE_INDEX] * (width - len(y)) for y in labels])}


def step(model, batch, once: bool) -> tuple[float, torch.Tensor]:
    knowtune_loss.SHARED_PREFIX_MIN = 8 if once else 10**9
    base = model.get_base_model()
    model.zero_grad()
    start = time.perf_counter()
    out = model(**batch, use_cache=False, knowtune_hidden=True)
    total, _ = knowtune_loss.token_loss(out.hidden, base.get_output_embeddings(), out.targets)
    (total / out.targets.numel()).backward()
    seconds = time.perf_counter() - start
    return seconds, torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()

    path = resolve_model(DEFAULT_MODEL)
    tokenizer = load_tokenizer(path)
    torch.manual_seed(0)
    model = get_peft_model(load_model(path), LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0,
                                                        target_modules=["gate_proj", "up_proj", "down_proj"]))
    with torch.no_grad():  # trained adapters, not zero ones: the gradients then reach every layer's input
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.02)
    knowtune_loss.add_hidden_output(model.get_base_model())
    model.train()
    ids, labels = tokenize_chats(conversations(), tokenizer)
    order = list(range(len(ids)))
    random.Random(0).shuffle(order)
    batches = [[order[(s * args.batch + j) % len(order)] for j in range(args.batch)] for s in range(args.steps + 1)]
    batches = [collate([ids[i] for i in b], [labels[i] for i in b]) for b in batches]
    shared = knowtune_loss.shared_prefix(batches[0]["input_ids"], batches[0]["attention_mask"])
    step(model, batches[0], True), step(model, batches[0], False)  # warm-up, not timed
    once_s = whole_s = 0.0
    worst = 0.0
    for batch in batches[1:]:
        seconds, once = step(model, batch, True)
        once_s += seconds
        seconds, whole = step(model, batch, False)
        whole_s += seconds
        worst = max(worst, ((once - whole).norm() / whole.norm()).item())
    tokens = sum(int(b["attention_mask"].sum()) for b in batches[1:])
    print(f"{args.steps} steps of {args.batch} samples ({tokens / args.steps:.0f} tokens a step, {shared} shared by every "
          f"row), {os.cpu_count()} CPUs, {torch.get_num_threads()} threads")
    print(f"whole batch:        {whole_s / args.steps:.3f} s/step")
    print(f"shared prefix once: {once_s / args.steps:.3f} s/step   ({whole_s / once_s:.2f}x)")
    print(f"largest relative gradient difference: {worst:.1e}")


if __name__ == "__main__":
    main()
