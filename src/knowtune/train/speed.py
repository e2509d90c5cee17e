"""What makes knowtune's training fast: padding-free batches, and Liger Kernel on a GPU.

Padding-free (`training.padding_free`, on by default): TRL's collator (SFTConfig.padding_free)
lays a batch's samples end to end in one row and restarts `position_ids` at every sample, with no
attention mask. transformers' mask builder (masking_utils.create_causal_mask) finds the restarts
and gives sdpa, eager and flex attention a block-diagonal causal mask (flash attention gets the
samples' boundaries, cu_seq_lens, from the collator), so no compute goes to padding and no sample
attends to another. The labels are knowtune's own (assistant-only loss): the collator keeps them.
A model whose modeling code builds its masks some other way would see one long sample, so it
keeps padded batches (see padding_free_problem). The loss itself already runs through TRL's
chunked LM head, which never builds the whole (tokens x vocabulary) logits.
"""

from __future__ import annotations

import importlib.util
import logging
import sys

import torch

log = logging.getLogger("knowtune")

# Attention implementations that read the packed samples' boundaries from position_ids.
PACKED_ATTENTION = ("sdpa", "eager", "flex_attention", "flash_attention_2", "flash_attention_3")


def padding_free_problem(model) -> str | None:
    """Why `model` cannot train on padding-free batches, or None when it can."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # PEFT wraps it
    attention = getattr(base.config, "_attn_implementation", None)
    if attention not in PACKED_ATTENTION:
        return f"attention implementation {attention!r}"
    # transformers' own modeling files import the mask builders that detect packed samples; remote
    # code and older architectures that build their masks by hand do not.
    if not hasattr(sys.modules[type(base).__module__], "create_causal_mask"):
        return f"{type(base).__name__} builds its attention masks without transformers' masking utilities"
    return None


def settle_padding_free(args, model) -> None:
    """Turn `args.padding_free` off, with a log line, for a model that cannot keep packed samples apart."""
    if not args.padding_free:
        return
    problem = padding_free_problem(model)
    if problem:
        log.warning("padding-free batches are off (%s): each batch is padded to its longest sample", problem)
        args.padding_free = False


def liger_kernel() -> bool:
    """Use Liger Kernel's fused layers (RMSNorm, SwiGLU, RoPE) when training on a GPU and it is installed."""
    return torch.cuda.is_available() and importlib.util.find_spec("liger_kernel") is not None
