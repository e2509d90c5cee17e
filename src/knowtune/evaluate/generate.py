"""Batched greedy generation of chat answers, as used by every generation-based evaluation."""

from __future__ import annotations

import torch


def _chat_prompt(tokenizer, prompt: str, system_prompt: str | None) -> str:
    messages = [{"role": "user", "content": prompt}]
    if system_prompt is not None:
        messages.insert(0, {"role": "system", "content": system_prompt})
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def generate_answers(
    model,
    tokenizer,
    prompts: list[str],
    batch_size: int = 8,
    max_new_tokens: int = 64,
    system_prompt: str | None = None,
) -> list[str]:
    """Answer each prompt as a user message, greedily; return the answers in the prompts' order.

    The tokenizer needs a pad token (`knowtune.models.load_tokenizer` sets one).
    """
    texts = [_chat_prompt(tokenizer, p, system_prompt) for p in prompts]
    # The chat template already writes any special tokens the model expects.
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    # Batching prompts of similar length wastes little on padding; longest first, so that running
    # out of memory happens on the first batch rather than after minutes of work.
    order = sorted(range(len(texts)), key=lambda i: lengths[i], reverse=True)

    answers: list[str] = [""] * len(texts)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                batch_ids = order[start : start + batch_size]
                # Left padding keeps every prompt's last token at the end of the row, where
                # generation continues. Passing padding_side per call leaves the tokenizer as it is.
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
                    do_sample=False,
                    eos_token_id=tokenizer.eos_token_id,
                    pad_token_id=tokenizer.pad_token_id,
                )
                new_tokens = output[:, batch["input_ids"].shape[1] :]
                for i, text in zip(batch_ids, tokenizer.batch_decode(new_tokens, skip_special_tokens=True)):
                    answers[i] = text.strip()
    finally:
        model.train(was_training)
    return answers
