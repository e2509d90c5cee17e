"""RoPE control without copying modelling code: another base frequency, and layers with no rotary embedding.

In transformers 5 (Llama, Qwen2, Qwen3) the model computes the rotary (cos, sin) once per forward and
hands them to every decoder layer, which passes them on to its attention as `position_embeddings=`.
A forward pre-hook on a chosen layer's attention swaps them for (1, 0), the identity rotation, so
that layer's queries and keys carry no position (NoPE). The base frequency is
`config.rope_parameters["rope_theta"]`; it sets the rotary embedding's `inv_freq` when the model is
built, so it is changed on the config before loading.

Hooks are not saved with the weights. A full model records its NoPE layers in config.json under
`knowtune_no_rope_layers`, which plain transformers keeps but ignores (it applies RoPE everywhere);
its rope_theta is a native config key and survives any load. An adapter's base config is not saved,
so a LoRA final_model/ records both settings in `knowtune_rope.json`. `knowtune.models.load_model`
and `load_trained` apply them again.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from knowtune.errors import UserError
from knowtune.fileio import write_json

SUPPORTED = ("llama", "qwen2", "qwen3")
CONFIG_KEY = "knowtune_no_rope_layers"
SIDECAR = "knowtune_rope.json"


def set_theta(config, theta: float) -> None:
    params = getattr(config, "rope_parameters", None)
    if not isinstance(params, dict) or "rope_theta" not in params:
        raise UserError(f"rope_theta: model type '{config.model_type}' keeps no single rope_theta in its config")
    config.rope_parameters = {**params, "rope_theta": float(theta)}


def resolve_layers(config, spec: list[int | str]) -> list[int]:
    """`no_rope_layers` as sorted layer indices of this model; the architecture must be one we hook."""
    from knowtune.models.layers import layer_indices

    if spec and config.model_type not in SUPPORTED:
        raise UserError(
            f"no_rope_layers: model type '{config.model_type}' is not supported (supported: {', '.join(SUPPORTED)})"
        )
    return sorted(layer_indices(spec, config.num_hidden_layers, "no_rope_layers"))


def _identity_rotation(module, args, kwargs):
    cos, sin = kwargs["position_embeddings"]
    kwargs["position_embeddings"] = (torch.ones_like(cos), torch.zeros_like(sin))
    return args, kwargs


def disable_rope(model, layers: list[int]) -> None:
    """Turn RoPE off on these decoder layers (indices from resolve_layers) and record it in model.config."""
    for index in layers:
        model.get_decoder().layers[index].self_attn.register_forward_pre_hook(_identity_rotation, with_kwargs=True)
    setattr(model.config, CONFIG_KEY, list(layers))


def write_sidecar(adapter_dir: Path, theta: float | None, layers: list[int | str] | None) -> None:
    """Record the RoPE overrides an adapter was trained with (None = the base model's own)."""
    write_json(Path(adapter_dir) / SIDECAR, {"rope_theta": theta, "no_rope_layers": layers})


def read_sidecar(adapter_dir: Path) -> tuple[float | None, list[int | str] | None]:
    path = Path(adapter_dir) / SIDECAR
    if not path.is_file():
        return None, None
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        return saved["rope_theta"], saved["no_rope_layers"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise UserError(f"{path}: not a knowtune RoPE record ({e})") from None
