"""Load the base model and make the right parameters trainable: LoRA, QLoRA, full, or freeze."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch

from knowtune.errors import UserError, missing_extra
from knowtune.models import layer_indices, load_model
from knowtune.train.config import FreezeSettings, LoraSettings, TrainConfig


def lora_config(settings: LoraSettings):
    from peft import LoraConfig

    r, alpha, dropout, targets = settings.r, settings.alpha, settings.dropout, settings.target_modules
    if settings.config_file:
        path = Path(settings.config_file)
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"lora.config_file {path} does not exist") from None
        except json.JSONDecodeError as e:
            raise UserError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None
        r = spec.get("r", r)
        alpha = spec.get("lora_alpha", alpha)
        dropout = spec.get("lora_dropout", dropout)
        targets = spec.get("target_modules", targets)
    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets, task_type="CAUSAL_LM")


def apply_freeze(model, settings: FreezeSettings) -> list[str]:
    """Train only the chosen layers/modules; return the names of the trainable parameters."""
    n_layers = model.config.num_hidden_layers
    layers = layer_indices(settings.trainable_layers, n_layers, "freeze.trainable_layers")
    modules = [m for m in settings.trainable_modules if m != "all"]
    layer_re = re.compile(r"\.layers\.(\d+)\.")
    trainable = []
    for name, param in model.named_parameters():
        m = layer_re.search(name)
        if m:
            on = int(m.group(1)) in layers and (not modules or any(mod in name for mod in modules))
        else:
            on = any(extra in name for extra in settings.extra_modules)
        param.requires_grad_(on)
        if on:
            trainable.append(name)
    if not trainable:
        raise UserError("method=freeze: the freeze settings select no parameter of this model")
    return trainable


def _quantization_config(bits: int):
    if not torch.cuda.is_available():
        raise UserError("method=qlora needs a CUDA GPU (bitsandbytes quantization); this machine has none: use method=lora")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise missing_extra("bitsandbytes", "qlora") from None
    from transformers import BitsAndBytesConfig

    if bits == 8:
        return BitsAndBytesConfig(load_in_8bit=True)
    compute = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=compute
    )


def build_model(cfg: TrainConfig, model_path: str):
    """The model ready for the trainer, and a one-line summary of what trains."""
    rope = {"rope_theta": cfg.rope_theta, "no_rope_layers": cfg.no_rope_layers}
    if cfg.method == "qlora":
        from peft import get_peft_model, prepare_model_for_kbit_training

        quant = _quantization_config(cfg.lora.quantization_bits)
        device = {"": int(os.environ.get("LOCAL_RANK", 0))}  # torchrun: each process quantizes onto its own GPU
        model = load_model(model_path, cfg.trust_remote_code, quantization_config=quant, device_map=device, **rope)
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.training.gradient_checkpointing)
        model = get_peft_model(model, lora_config(cfg.lora))
    else:
        model = load_model(model_path, cfg.trust_remote_code, **rope)
        if cfg.method == "lora":
            from peft import get_peft_model

            model = get_peft_model(model, lora_config(cfg.lora))
        elif cfg.method == "freeze":
            apply_freeze(model, cfg.freeze)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return model, f"{cfg.method}: {trainable:,} of {total:,} parameters trainable ({100 * trainable / total:.2f}%)"
