"""Records to training samples: chat rendering, loss masks, truncation, text blocks, the datasets.

A chat is rendered by the tokenizer's own chat template, never formatted by hand, so training
sees exactly the text the model sees at inference. The loss mask comes from character spans:
each assistant turn is the text that rendering the conversation up to and including that turn
adds after rendering it up to the turn's generation prompt. This holds for any template whose
renderings of a conversation's prefixes are prefixes of the full rendering, and it covers the
template's end-of-turn tokens, so the model learns to stop.
"""

from __future__ import annotations

import random

import jinja2

from knowtune.data.config import DataConfig
from knowtune.data.load import Record, load_records
from knowtune.data.shapes import detect_shape, to_messages, validate_record
from knowtune.errors import UserError
from knowtune.models import CHATML_TEMPLATE

IGNORE_INDEX = -100  # the label value that transformers' loss skips
# A token spans far fewer characters than this, so a message's text past max_seq_length * this many
# characters can only be cut away: it is cut before tokenizing, and a 100 MB line costs what a short one does.
MAX_CHARS_PER_TOKEN = 100


def ensure_chat_template(tokenizer, cfg: DataConfig) -> None:
    """Give the tokenizer `cfg.chat_template` when it has none (it then saves with the model)."""
    if tokenizer.chat_template:
        return
    if cfg.chat_template is None:
        raise UserError(
            "the tokenizer has no chat template, which chat, alpaca, qa and extraction data need; "
            "set data.chat_template to a Jinja template or to chatml"
        )
    tokenizer.chat_template = CHATML_TEMPLATE if cfg.chat_template == "chatml" else cfg.chat_template


def _render(tokenizer, messages: list[dict], where: str, add_generation_prompt: bool = False) -> str:
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
    except (jinja2.TemplateError, ValueError) as e:  # templates reject e.g. non-alternating roles
        raise UserError(f"{where}: the chat template cannot render this conversation: {e}") from e


def _assistant_spans(tokenizer, messages: list[dict], full: str, where: str) -> list[tuple[int, int]]:
    """Character spans of `full` that belong to assistant turns, end-of-turn markup included."""
    spans = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        if index == 0:
            raise UserError(f"{where}: field 'messages' starts with an assistant turn; put a user turn before it")
        prompt = _render(tokenizer, messages[:index], where, add_generation_prompt=True)
        turn = _render(tokenizer, messages[: index + 1], where)
        if not (turn.startswith(prompt) and full.startswith(turn)):
            raise UserError(
                f"{where}: the chat template renders the conversation up to turn {index} differently from the "
                "whole conversation, so the assistant tokens cannot be found; use data.train_on=all or another "
                "data.chat_template"
            )
        spans.append((len(prompt), len(turn)))
    return spans


def tokenize_chat(
    messages: list[dict], tokenizer, train_on: str = "assistant", where: str = "conversation"
) -> tuple[list[int], list[int]]:
    """`input_ids` and `labels` of one conversation; labels are IGNORE_INDEX where no loss is taken."""
    full = _render(tokenizer, messages, where)
    # The template writes any BOS itself; letting the tokenizer add one too would double it.
    if train_on == "all":
        ids = tokenizer(full, add_special_tokens=False, verbose=False)["input_ids"]
        return ids, list(ids)
    if not tokenizer.is_fast:
        raise UserError("data.train_on=assistant needs a fast tokenizer (for character offsets); use train_on=all")
    encoded = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    spans = _assistant_spans(tokenizer, messages, full, where)
    labels = []
    for token, (start, end) in zip(encoded["input_ids"], encoded["offset_mapping"]):
        # Overlap, not containment: a token merged across the turn's first character still
        # produces answer text, so the model must learn it.
        inside = end > start and any(start < turn_end and end > turn_start for turn_start, turn_end in spans)
        labels.append(token if inside else IGNORE_INDEX)
    return encoded["input_ids"], labels


def tokenize_text(text: str, tokenizer, max_seq_length: int) -> list[list[int]]:
    """Consecutive blocks of at most `max_seq_length` tokens covering the text and a final EOS."""
    # Default special tokens: a model trained with a BOS at the start of each document gets one.
    ids = tokenizer(text, verbose=False)["input_ids"]
    if tokenizer.eos_token_id is not None and (not ids or ids[-1] != tokenizer.eos_token_id):
        ids.append(tokenizer.eos_token_id)  # marks the document's end, so the model learns where texts stop
    return [ids[start : start + max_seq_length] for start in range(0, len(ids), max_seq_length)]


def _samples(records: list[Record], shape: str, cfg: DataConfig, tokenizer) -> tuple[dict[str, list], int, int]:
    """The input_ids/labels columns, how many samples were truncated, how many were dropped."""
    columns: dict[str, list] = {"input_ids": [], "labels": []}
    truncated = dropped = 0
    for record in records:
        if shape == "text":
            for block in tokenize_text(record.data[cfg.text_column], tokenizer, cfg.max_seq_length):
                columns["input_ids"].append(block)
                columns["labels"].append(list(block))
            continue
        limit = cfg.max_seq_length * MAX_CHARS_PER_TOKEN
        messages = [{**m, "content": m["content"][:limit]} for m in to_messages(record.data, shape, cfg)]
        ids, labels = tokenize_chat(messages, tokenizer, cfg.train_on, record.where)
        if len(ids) > cfg.max_seq_length:
            truncated += 1
            ids, labels = ids[: cfg.max_seq_length], labels[: cfg.max_seq_length]
        if all(label == IGNORE_INDEX for label in labels):
            dropped += 1  # the answer lay wholly past max_seq_length: nothing left to learn from
            continue
        columns["input_ids"].append(ids)
        columns["labels"].append(labels)
    return columns, truncated, dropped


def build_datasets(cfg: DataConfig, tokenizer, seed: int = 42, cache_dir: str | None = None):
    """Read, check, split and tokenize the data; return (train, eval or None, stats).

    The held-out share is taken before `dataset_size` caps the training records, so runs that
    differ only in dataset_size are evaluated on the same records.
    """
    import datasets

    train_records = load_records(cfg.train, cfg.text_column, ("train",), cache_dir)
    eval_records = load_records(cfg.eval, cfg.text_column, ("validation", "test"), cache_dir) if cfg.eval else []
    shape = detect_shape(train_records[0], cfg.text_column) if cfg.format == "auto" else cfg.format
    for record in train_records + eval_records:
        validate_record(record, shape, cfg.text_column, cfg.train_on)

    random.Random(seed).shuffle(train_records)
    eval_source = "files" if cfg.eval else None
    if not cfg.eval and cfg.validation_split_percentage > 0:
        held_out = max(1, round(len(train_records) * cfg.validation_split_percentage / 100))
        if held_out >= len(train_records):
            raise UserError(
                f"data.validation_split_percentage={cfg.validation_split_percentage} leaves no training records "
                f"out of {len(train_records)}"
            )
        eval_records, train_records = train_records[:held_out], train_records[held_out:]
        eval_source = "split"
    if cfg.dataset_size is not None:
        train_records = train_records[: cfg.dataset_size]

    if shape != "text":
        ensure_chat_template(tokenizer, cfg)
    train_columns, train_truncated, train_dropped = _samples(train_records, shape, cfg, tokenizer)
    eval_columns, eval_truncated, eval_dropped = _samples(eval_records, shape, cfg, tokenizer)
    for name, records, columns in (("training", train_records, train_columns), ("eval", eval_records, eval_columns)):
        if records and not columns["input_ids"]:
            raise UserError(
                f"no {name} samples left: all {len(records)} records lost every trainable token when cut to "
                f"data.max_seq_length={cfg.max_seq_length}; raise data.max_seq_length or shorten the prompts"
            )

    stats = {
        "shape": shape,
        "files": {"train": list(cfg.train), "eval": list(cfg.eval)},
        "eval_source": eval_source,
        "train_records": len(train_records),
        "eval_records": len(eval_records),
        "train_samples": len(train_columns["input_ids"]),
        "eval_samples": len(eval_columns["input_ids"]),
        "dropped_no_trainable_tokens": train_dropped + eval_dropped,
        "truncated": train_truncated + eval_truncated,
        "train_tokens": sum(len(ids) for ids in train_columns["input_ids"]),
        "trainable_tokens": sum(label != IGNORE_INDEX for labels in train_columns["labels"] for label in labels),
    }
    train = datasets.Dataset.from_dict(train_columns)
    evaluation = datasets.Dataset.from_dict(eval_columns) if eval_records else None
    return train, evaluation, stats
