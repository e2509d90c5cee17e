"""`build_datasets`: the training and eval sets a run trains on, tokenized once and cached, or streamed.

It sits above the modules it combines (tokenize: records to samples; prepared: the cached tables;
streaming: packed blocks read as training goes), so that none of them imports another back.
"""

from __future__ import annotations

import random

from knowtune.data.config import DataConfig
from knowtune.data.prepared import pick_samples, prepare_tables
from knowtune.data.streaming import stream_datasets
from knowtune.errors import UserError


def build_datasets(cfg: DataConfig, tokenizer, seed: int = 42, cache_dir: str | None = None):
    """Read, check, split and tokenize the data; return (train, eval or None, stats).

    Tokenizing is done once per input (files, tokenizer, chat template, data settings) and cached on
    disk; the shuffle, the held-out split and `dataset_size` are picked from the cached samples on
    every call, so runs that differ only in those reuse the cache. The held-out share is taken
    before `dataset_size` caps the training records, so runs that differ only in dataset_size are
    evaluated on the same records. With data.streaming the training set is read as it trains.
    """
    if cfg.streaming:
        evaluation, eval_stats = None, None
        if cfg.eval:  # eval sets are small: tokenized and cached as without streaming
            held_out = cfg.model_copy(update={"train": cfg.eval, "eval": [], "streaming": False})
            evaluation, _, eval_stats = build_datasets(held_out, tokenizer, cache_dir=cache_dir)
        return stream_datasets(cfg, tokenizer, evaluation, eval_stats, cache_dir)
    tables = prepare_tables(cfg, tokenizer, cache_dir)
    order = list(range(tables.train_records))
    random.Random(seed).shuffle(order)
    eval_source, eval_part = ("files", (tables.eval, list(range(tables.eval_records)))) if cfg.eval else (None, None)
    if not cfg.eval and cfg.validation_split_percentage > 0:
        held_out = max(1, round(len(order) * cfg.validation_split_percentage / 100))
        if held_out >= len(order):
            raise UserError(
                f"data.validation_split_percentage={cfg.validation_split_percentage} leaves no training records "
                f"out of {len(order)}"
            )
        eval_source, eval_part, order = "split", (tables.train, order[:held_out]), order[held_out:]
    if cfg.dataset_size is not None:
        order = order[: cfg.dataset_size]

    train, train_counts = pick_samples(tables.train, order)
    evaluation, eval_counts = pick_samples(*eval_part) if eval_part else (None, None)
    for name, records, counts in (("training", order, train_counts), ("eval", eval_part and eval_part[1], eval_counts)):
        if records and not counts["samples"]:
            raise UserError(
                f"no {name} samples left: all {len(records)} records lost every trainable token when cut to "
                f"data.max_seq_length={cfg.max_seq_length}; raise data.max_seq_length or shorten the prompts"
            )
    eval_counts = eval_counts or dict.fromkeys(train_counts, 0)
    stats = {
        "shape": tables.shape,
        "files": {"train": list(cfg.train), "eval": list(cfg.eval)},
        "eval_source": eval_source,
        "train_records": len(order),
        "eval_records": len(eval_part[1]) if eval_part else 0,
        "train_samples": train_counts["samples"],
        "eval_samples": eval_counts["samples"],
        "dropped_no_trainable_tokens": train_counts["dropped"] + eval_counts["dropped"],
        "truncated": train_counts["truncated"] + eval_counts["truncated"],
        "train_tokens": train_counts["tokens"],
        "trainable_tokens": train_counts["trainable"],
    }
    return train, evaluation, stats
