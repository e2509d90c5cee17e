"""Perplexity over texts with a sliding window, as in the transformers perplexity guide.

A text longer than the window is scored in windows of `max_length` tokens that move by `stride`:
each window scores only the tokens no earlier window scored, so every token after the first is
scored exactly once, with at least `max_length - stride` tokens of context once the first window
is passed (stride < max_length, so that windows overlap: the first token of a window that starts
cold could not be scored). Perplexity is exp of the mean negative log-likelihood over all scored tokens of a
dataset (token-weighted, not a mean of per-text perplexities). Only each batch's logits exist at
any time.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from knowtune.models.generate import in_batches

IGNORE = -100


@dataclass(frozen=True)
class Window:
    text: int  # index of the text it belongs to
    ids: list[int]
    context: int  # leading tokens that are context only, not scored


def windows(ids: list[int], max_length: int, stride: int, text: int = 0) -> list[Window]:
    """The windows that score tokens 1..len(ids)-1 of one text exactly once.

    The first window scores all of its tokens but the first (nothing predicts it); each later one
    ends `stride` tokens further and scores only those, after `max_length - stride` of context.
    """
    if not 0 < stride < max_length:
        raise ValueError(f"stride must be between 1 and max_length - 1, got {stride} (max_length {max_length})")
    if not ids:
        return []
    found = [Window(text, ids[:max_length], 0)]
    scored_until = len(found[0].ids)
    while scored_until < len(ids):
        end = min(scored_until + stride, len(ids))
        found.append(Window(text, ids[end - max_length : end], max_length - (end - scored_until)))
        scored_until = end
    return found


def _nll(model, batch: list[Window]) -> list[tuple[float, int]]:
    """(sum of token NLLs, tokens scored) of each window; right padding, masked out of the loss."""
    width = max(len(w.ids) for w in batch)
    input_ids = torch.zeros((len(batch), width), dtype=torch.long)  # padding ids are masked, any id does
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    attention = torch.zeros((len(batch), width), dtype=torch.long)
    for row, w in enumerate(batch):
        n = len(w.ids)
        input_ids[row, :n] = torch.tensor(w.ids)
        attention[row, :n] = 1
        labels[row, w.context : n] = torch.tensor(w.ids[w.context :])
    logits = model(input_ids=input_ids.to(model.device), attention_mask=attention.to(model.device)).logits
    # Position t predicts token t+1.
    targets = labels[:, 1:].to(logits.device)
    losses = F.cross_entropy(
        logits[:, :-1].float().transpose(1, 2), targets, ignore_index=IGNORE, reduction="none"
    )
    scored = targets != IGNORE
    return [(float(losses[row][scored[row]].sum()), int(scored[row].sum())) for row in range(len(batch))]


def text_nlls(
    model,
    tokenizer,
    texts: Sequence[str],
    max_length: int = 1024,
    stride: int = 512,
    batch_size: int = 8,
    shrink_on_oom: bool = False,
) -> Iterator[tuple[int, float, int, int, int]]:
    """Yield (text index, NLL sum, tokens scored, windows, batch size used) for each finished text.

    Texts come out in the order their last window is done (windows are batched by length).
    """
    all_windows = []
    for index, text in enumerate(texts):
        ids = tokenizer(text, verbose=False)["input_ids"]
        all_windows.extend(windows(ids, max_length, stride, index))
    remaining = Counter(w.text for w in all_windows)
    totals = {index: [0.0, 0, 0] for index in remaining}
    order = sorted(all_windows, key=lambda w: len(w.ids), reverse=True)

    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for _, batch, results, used in in_batches(order, batch_size, lambda b: _nll(model, b), shrink_on_oom):
                for w, (nll, count) in zip(batch, results):
                    total = totals[w.text]
                    total[0] += nll
                    total[1] += count
                    total[2] += 1
                    remaining[w.text] -= 1
                    if not remaining[w.text]:
                        yield w.text, total[0], total[1], total[2], used
    finally:
        model.train(was_training)


def perplexity(nll: float, tokens: int) -> float:
    return math.exp(nll / tokens) if tokens else float("nan")
