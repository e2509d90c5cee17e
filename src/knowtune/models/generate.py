"""Batched chat generation, shared by every generation-based evaluation.

Prompts are rendered with the model's chat template, sorted by length (longest first, so that
running out of memory happens on the first batch rather than after minutes of work), left padded
(every prompt's last token ends the row, where generation continues) and answered greedily unless
a temperature is given. Answers come out batch by batch, so a caller can stream them to disk.

Greedy answers are decoded by `greedy_rows`, which drops a row from the batch (and from its KV
cache, `Cache.batch_select_indices`) as soon as it ends, so the steps after that run on the rows
still writing, and runs the tokens every prompt starts with (a chat template's system prompt) once
for the whole batch. `model.generate` keeps every row to the end of the longest answer, and a model
that rambles on a few questions makes the whole batch pay for them. Same tokens as `model.generate`
(tests/unit/test_batched_generation.py); transformers' own continuous batching
(`model.generate_batch`) ran slower than `model.generate` on a CPU. Sampling, and a model whose
generation config changes the logits (repetition penalty and the like), go through `model.generate`.
"""

from __future__ import annotations

import inspect
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


# Rows per generation batch unless told otherwise: a decoding step reads every weight once however many
# rows it serves, so wide batches are cheap per answer (the default model on a 2-core CPU, one decoding
# step: 87 ms for 1 row, 219 ms for 32, 559 ms for 128), and finished rows leave the batch.
GENERATION_BATCH = 128

# Generation-config fields that make `model.generate` change the logits even when decoding greedily.
_LOGITS_CHANGED_BY = {"repetition_penalty": (None, 1.0), "no_repeat_ngram_size": (None, 0), "bad_words_ids": (None,),
                      "min_length": (None, 0), "min_new_tokens": (None, 0), "suppress_tokens": (None,),
                      "begin_suppress_tokens": (None,), "forced_bos_token_id": (None,),
                      "forced_eos_token_id": (None,), "sequence_bias": (None,), "encoder_repetition_penalty": (None, 1.0)}


def _plain_greedy(model) -> bool:
    """Whether greedy decoding of `model` is the argmax of its logits at each step (`greedy_rows`)."""
    config = getattr(model, "generation_config", None)
    if config is None or getattr(model.config, "is_encoder_decoder", False):
        return False
    if any(getattr(config, name, None) not in plain for name, plain in _LOGITS_CHANGED_BY.items()):
        return False
    return _cache_keyword(model) is not None


def _cache_keyword(model) -> str | None:
    """The forward's keyword for the KV cache (`cache`; `past_key_values` in older transformers), or None where
    the forward cannot keep only the last position's logits."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    parameters = inspect.signature(base.forward).parameters
    if "logits_to_keep" not in parameters:
        return None
    return next((name for name in ("cache", "past_key_values") if name in parameters), None)


def balanced(n: int, batch_size: int, shrink_on_oom: bool = False) -> int:
    """knowtune's own wide CPU batches (GENERATION_BATCH rows) spread evenly over `n` prompts: the suite's 387 in
    three batches of 129, not 128, 128, 128 and 3. A short last batch pays each decoding step's fixed cost again
    for a few rows. Any other size, and one that halves on out-of-memory (a GPU's), is kept as given."""
    if batch_size != GENERATION_BATCH or shrink_on_oom or n <= batch_size:
        return batch_size
    return -(-n // max(1, round(n / batch_size)))


SHARED_PREFIX_MIN = 8  # tokens every row of a batch starts with, below which the prefix is not split off


def common_prefix(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> int:
    """How many tokens every row's prompt (its unmasked tokens, left or right padded) starts with (a chat
    template's system prompt), leaving each row at least one token of its own."""
    prompts = [ids[mask.bool()] for ids, mask in zip(input_ids, attention_mask)]
    shortest = min(len(p) for p in prompts)
    first = prompts[0][: shortest - 1]
    same = torch.ones_like(first, dtype=torch.bool)
    for prompt in prompts[1:]:
        same &= prompt[: len(first)] == first
    return int(same.long().cumprod(0).sum()) if len(first) else 0


def _prefill(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, kv, forward: dict):
    """The prompts' forward into the KV cache `kv`: (output, attention mask so far, each row's last position). A
    prefix every row shares is run once and its KV copied to every row (`Cache.batch_repeat_interleave`)."""
    rows = input_ids.shape[0]
    shared = common_prefix(input_ids, attention_mask) if rows > 1 else 0
    if shared < SHARED_PREFIX_MIN:
        positions = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        out = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=positions, **forward)
        return out, attention_mask, positions[:, -1:]
    prefix = input_ids[0][attention_mask[0].bool()][:shared][None]
    model(input_ids=prefix, attention_mask=torch.ones_like(prefix),
          position_ids=torch.arange(shared, device=prefix.device)[None], **forward)
    kv.batch_repeat_interleave(rows)
    # The rest of each prompt, left padded after the shared part: [prefix | padding | own tokens].
    own = [ids[mask.bool()][shared:] for ids, mask in zip(input_ids, attention_mask)]
    width = max(len(o) for o in own)
    rest = input_ids.new_zeros((rows, width))  # padding: any id, masked out
    rest_mask = attention_mask.new_zeros((rows, width))
    for row, o in enumerate(own):
        rest[row, width - len(o):], rest_mask[row, width - len(o):] = o, 1
    positions = shared + rest_mask.long().cumsum(-1) - 1
    mask = torch.cat([attention_mask.new_ones((rows, shared)), rest_mask], dim=-1)
    out = model(input_ids=rest, attention_mask=mask, position_ids=positions.clamp(min=shared), **forward)
    return out, mask, positions[:, -1:]


def greedy_rows(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, eos_token_id: int,
                max_new_tokens: int, ends: Sequence[Callable[[list[int]], bool] | None] | None = None
                ) -> list[list[int]]:
    """Each left-padded row's greedy continuation (without its end-of-turn token), at most
    `max_new_tokens` tokens; a row leaves the batch and its KV cache at its end-of-turn token, or
    once `ends[row]` (if given) says of its tokens so far that they are enough
    (knowtune.evaluate.scoring.answered_check)."""
    from transformers import DynamicCache

    rows = input_ids.shape[0]
    answers: list[list[int]] = [[] for _ in range(rows)]
    alive = torch.arange(rows, device=input_ids.device)
    kv = DynamicCache(config=model.config)
    forward = {_cache_keyword(model): kv, "use_cache": True, "logits_to_keep": 1}
    out, attention_mask, position = _prefill(model, input_ids, attention_mask, kv, forward)
    for step in range(max_new_tokens):
        token = out.logits[:, -1].argmax(-1)
        ended = token == eos_token_id if eos_token_id is not None else torch.zeros_like(token, dtype=torch.bool)
        for i, (row, t, end) in enumerate(zip(alive.tolist(), token.tolist(), ended.tolist())):
            if not end:
                answers[row].append(t)
                if ends is not None and ends[row] is not None and ends[row](answers[row]):
                    ended[i] = True
        if step == max_new_tokens - 1 or bool(ended.all()):
            break
        if bool(ended.any()):
            keep = (~ended).nonzero().squeeze(-1)
            kv.batch_select_indices(keep)
            alive, token, attention_mask, position = alive[keep], token[keep], attention_mask[keep], position[keep]
        attention_mask = torch.cat([attention_mask, attention_mask.new_ones(attention_mask.shape[0], 1)], dim=-1)
        position = position + 1
        out = model(input_ids=token[:, None], attention_mask=attention_mask, position_ids=position, **forward)
    return answers


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
    ends: Sequence[Callable[[list[int]], bool] | None] | None = None,
) -> Iterator[tuple[list[int], list[str], int]]:
    """Yield (prompt indices, their answers, batch size used), one batch at a time.

    `ends`, one per prompt (None: none for that one), lets greedy decoding end an answer before its
    end-of-turn token (`greedy_rows`); sampling ignores it. The tokenizer needs a pad token
    (`knowtune.models.load_tokenizer` sets one).
    """
    if not prompts:  # a tokenizer given an empty batch fails inside; nothing to answer
        return
    texts = [render_prompt(tokenizer, p, system_prompt) for p in prompts]
    # The chat template already writes any special tokens the model expects.
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    order = sorted(range(len(texts)), key=lambda i: lengths[i], reverse=True)
    sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p} if temperature > 0 else {"do_sample": False}
    greedy = temperature <= 0 and _plain_greedy(model)

    def answer(batch_ids: list[int]) -> list[str]:
        # padding_side per call leaves the tokenizer as the caller set it.
        batch = tokenizer(
            [texts[i] for i in batch_ids],
            add_special_tokens=False,
            padding=True,
            padding_side="left",
            return_tensors="pt",
        ).to(model.device)
        if greedy:
            rows = greedy_rows(model, batch["input_ids"], batch["attention_mask"], tokenizer.eos_token_id, max_new_tokens,
                               None if ends is None else [ends[i] for i in batch_ids])
            return [text.strip() for text in tokenizer.batch_decode(rows, skip_special_tokens=True)]
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
            for _, batch_ids, answers, used in in_batches(order, balanced(len(order), batch_size, shrink_on_oom), answer,
                                                          shrink_on_oom):
                yield batch_ids, answers, used
    finally:
        model.train(was_training)


def generate_answers(
    model,
    tokenizer,
    prompts: Sequence[Prompt],
    batch_size: int = GENERATION_BATCH,
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
