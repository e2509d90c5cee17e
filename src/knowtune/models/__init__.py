"""Base models: the shipped default model, path resolution, loading (RoPE settings applied), generation.

Callers import from here (`from knowtune.models import load_model`); the modules inside say where
each part lives.
"""

from knowtune.models.layers import layer_indices
from knowtune.models.loading import CHATML_TEMPLATE, load_model, load_tokenizer, load_trained, model_config, resolve_model, save_merged
from knowtune.models.shipped import (
    DEFAULT_MODEL,
    SHIPPED_MODELS,
    ShippedModel,
    cache_dir,
    prepare_shipped_model,
    shipped_model_dir,
)

__all__ = [
    "CHATML_TEMPLATE", "DEFAULT_MODEL", "SHIPPED_MODELS", "ShippedModel", "cache_dir", "layer_indices", "load_model",
    "load_tokenizer", "load_trained", "model_config", "prepare_shipped_model", "resolve_model", "save_merged",
    "shipped_model_dir",
]
