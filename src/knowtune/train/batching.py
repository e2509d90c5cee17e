"""Batches with (almost) no padding, which make knowtune's training fast (the SFTConfig fields they
set, and Liger Kernel on a GPU, are in knowtune.train.arguments).

Two ways to spend no compute on padding (`training.batching`):

- padding_free: TRL's collator (SFTConfig.padding_free) lays a batch's samples end to end in one
  row and restarts `position_ids` at each sample, with no attention mask. Flash attention gets
  the samples' boundaries (cu_seq_lens) from the collator and attends within each sample only.
  For sdpa, eager and flex attention, transformers' mask builder (masking_utils.create_causal_mask)
  finds the restarts and builds a block-diagonal causal mask, so no sample attends to another,
  but the attention still runs over the whole row: (sum of lengths)^2 instead of sum(length^2).
- by_length: transformers' LengthGroupedSampler puts samples of similar length in a batch, padded
  to its longest, so little is padded and attention stays within each sample.

Measured on a 2-core CPU with sdpa (benchmarks/train_throughput.py), the quadratic attention
over a packed row cost more than the padding it saved, hence `auto`: padding_free with flash
attention, by_length otherwise. knowtune's labels (assistant-only loss) go through either as they
are.

The LM head and the loss run on the trained positions only (knowtune.train.loss): on a CPU that
skips the prompt tokens' logits, most of a QA batch's; on a GPU TRL's Triton head does the same.
Neither builds the whole (tokens x vocabulary) logits. In a padded or length-grouped batch the
tokens every row starts with (a chat template's system prompt) run once for the batch, their keys and
values repeated for the rows (knowtune.train.loss.backbone_hidden): the same loss and gradients,
1.16-1.25x faster per step on the default model (benchmarks/shared_prefix_training.py).
"""

from __future__ import annotations

import logging
import sys

from knowtune.upstream import attention_implementation

log = logging.getLogger("knowtune")

VARLEN_ATTENTION = ("flash_attention_2", "flash_attention_3")  # attend within each packed sample only
# Attention implementations that read the packed samples' boundaries from position_ids.
PACKED_ATTENTION = ("sdpa", "eager", "flex_attention", *VARLEN_ATTENTION)


def choose_batching(model, batching: str) -> str:
    """The batching this model trains with: `auto` decided, padding_free given up where the model cannot."""
    if batching == "auto":
        batching = "padding_free" if attention_implementation(model) in VARLEN_ATTENTION else "by_length"
    if batching == "padding_free":
        problem = padding_free_problem(model)
        if problem:
            log.warning("batching=padding_free is off (%s): batches are grouped by length instead", problem)
            batching = "by_length"
    return batching


def padding_free_problem(model) -> str | None:
    """Why `model` cannot train on padding-free batches, or None when it can."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    attention = attention_implementation(model)
    if attention not in PACKED_ATTENTION:
        return f"attention implementation {attention!r}"
    # transformers' own modeling files import the mask builders that detect packed samples; remote
    # code and older architectures that build their masks by hand do not.
    if not hasattr(sys.modules[type(base).__module__], "create_causal_mask"):
        return f"{type(base).__name__} builds its attention masks without transformers' masking utilities"
    return None
