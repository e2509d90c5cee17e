"""Batched chat generation, shared by every generation-based evaluation.

Prompts are rendered with the model's chat template, sorted by length (longest first, so that
running out of memory happens on the first batch rather than after minutes of work), left padded
(every prompt's last token ends the row, where generation continues) and answered greedily unless
a temperature is given. Answers come out batch by batch, so a caller can stream them to disk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import torch

from knowtune.errors import UserError

T = TypeVar("T")
R = TypeVar("R")

Prompt = str | list[dict]  # a user message, or a whole conversation to continue


def in_batches(
    items: Sequence[T], batch_size: int, work: Callable[[list[T]], R], shrink_on_oom: bool = False
) -> Iterator[tuple[int, list[T], R, int]]:
    """Yield (start, batch, work(batch), batch size used) over `items`.

    With `shrink_on_oom`, a batch that runs out of GPU memory is retried at half the size, and
    the smaller size is kept for the rest.
    """
    start = 0
    while start < len(items):
        batch = list(items[start : start + batch_size])
        try:
            result = work(batch)
        except torch.OutOfMemoryError:
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            if not shrink_on_oom or batch_size == 1:
                raise UserError(
                    f"out of memory at batch size {batch_size}; use --batch_size auto or a smaller one"
                ) from None
            batch_size //= 2
            continue
        yield start, batch, result, batch_size
        start += len(batch)


def render_prompt(tokenizer, prompt: Prompt, system_prompt: str | None = None) -> str:
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
    if system_prompt is not None and messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": system_prompt})
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def generate_batches(
    model,
    tokenizer,
    prompts: Sequence[Prompt],
    batch_size: int = 8,
    max_new_tokens: int = 64,
    system_prompt: str | None = None,
    temperature: float = 0.0,
    top_p: float = 1.0,
    shrink_on_oom: bool = False,
) -> Iterator[tuple[list[int], list[str], int]]:
    """Yield (prompt indices, their answers, batch size used), one batch at a time.

    The tokenizer needs a pad token (`knowtune.models.load_tokenizer` sets one).
    """
    if not prompts:  # a tokenizer given an empty batch fails inside; nothing to answer
        return
    texts = [render_prompt(tokenizer, p, system_prompt) for p in prompts]
    # The chat template already writes any special tokens the model expects.
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    order = sorted(range(len(texts)), key=lambda i: lengths[i], reverse=True)
    sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p} if temperature > 0 else {"do_sample": False}

    def answer(batch_ids: list[int]) -> list[str]:
        # padding_side per call leaves the tokenizer as the caller set it.
        batch = tokenizer(
            [texts[i] for i in batch_ids],
            add_special_tokens=False,
            padding=True,
            padding_side="left",
            return_tensors="pt",
        ).to(model.device)
        output = model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            **sampling,
        )
        new_tokens = output[:, batch["input_ids"].shape[1] :]
        return [text.strip() for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]

    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for _, batch_ids, answers, used in in_batches(order, batch_size, answer, shrink_on_oom):
                yield batch_ids, answers, used
    finally:
        model.train(was_training)


def generate_answers(
    model,
    tokenizer,
    prompts: Sequence[Prompt],
    batch_size: int = 8,
    max_new_tokens: int = 64,
    system_prompt: str | None = None,
) -> list[str]:
    """Answer each prompt greedily; return the answers in the prompts' order."""
    answers = [""] * len(prompts)
    for batch_ids, batch_answers, _ in generate_batches(
        model, tokenizer, prompts, batch_size, max_new_tokens, system_prompt
    ):
        for i, text in zip(batch_ids, batch_answers):
            answers[i] = text
    return answers
