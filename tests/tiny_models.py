"""Tiny random models for tests: built in-process from a config in a few ms, never downloaded."""

from __future__ import annotations

import os
from pathlib import Path

from knowtune.models import CHATML_TEMPLATE

_TINY_CORPUS = (
    "The quick brown fox jumps over the lazy dog. What is the capital of France? Paris is the capital. "
    "Question answer user assistant system context instruction input output text hello world 0123456789 "
    "Zorblat Quennet Vashti Marrowgate lighthouse engineer journalist student."
)


def build_tiny_tokenizer():
    """A byte-level BPE tokenizer trained in-process (a few ms), with a ChatML chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator([_TINY_CORPUS] * 4, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=CHATML_TEMPLATE,
    )


def build_tiny_model(out_dir: str | os.PathLike, arch: str = "llama", seed: int = 0) -> Path:
    """Save a tiny random causal LM (`llama`, `qwen2` or `qwen3` shape) with its tokenizer to `out_dir`."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config, Qwen3Config

    tokenizer = build_tiny_tokenizer()
    shape = dict(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    configs = {"llama": LlamaConfig, "qwen2": Qwen2Config, "qwen3": Qwen3Config}
    if arch not in configs:
        raise ValueError(f"tiny model arch must be one of {list(configs)}, got {arch!r}")
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(configs[arch](**shape), dtype=torch.float32)
    out = Path(out_dir)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
