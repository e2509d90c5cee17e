"""Loading base and trained models and their tokenizers: a name or path resolved, RoPE settings applied."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from knowtune.errors import UserError
from knowtune.models.shipped import SHIPPED_MODELS, prepare_shipped_model

log = logging.getLogger("knowtune")


def resolve_model(name: str, cache: str | os.PathLike | None = None) -> str:
    """Turn a config's `model` value into something `from_pretrained` loads.

    A shipped alias becomes its cached directory (converted on first use); a local directory must
    hold a config.json; anything else that looks like `org/name` is passed on as a Hub id.
    """
    if name in SHIPPED_MODELS:
        return str(prepare_shipped_model(name, cache))
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file() and not (path / "adapter_config.json").is_file():
            raise UserError(f"model path {path} has no config.json: not a transformers model directory")
        return str(path.resolve())
    if name.count("/") == 1 and not name.startswith((".", "/", "~")):
        return name  # a Hub id; loading reports if the Hub cannot be reached
    raise UserError(
        f"model '{name}' not found: not a local directory, not a Hub id (org/name), "
        f"not a shipped alias ({', '.join(SHIPPED_MODELS)})"
    )


# A template for models that have none (`data.chat_template: chatml`), as Qwen and SmolLM2 use.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def load_tokenizer(path: str, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    except OSError as e:
        raise UserError(f"cannot load tokenizer from '{path}': {str(e).splitlines()[0]}") from e
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def model_config(
    path: str, trust_remote_code: bool = False, rope_theta: float | None = None, no_rope_layers=None
) -> tuple[object, list[int] | None]:
    """A model's config with `rope_theta` applied, and the layers to run without RoPE (None = leave as is).

    `rope_theta` / `no_rope_layers` override the model's own; None keeps what its config records (a
    model trained by knowtune records its NoPE layers, see knowtune.models.rope). Cheap: no weights load.
    """
    from transformers import AutoConfig

    from knowtune.models import rope

    if (Path(path) / "adapter_config.json").is_file() and not (Path(path) / "config.json").is_file():
        raise UserError(f"{path} is a PEFT adapter, not a model; load it with knowtune.models.load_trained")
    if trust_remote_code:
        log.warning("trust_remote_code is on: Python code shipped with %s may run in this process", path)
    try:
        config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as e:
        raise UserError(f"cannot load the model config from '{path}': {str(e).splitlines()[0]}") from e
    if rope_theta is not None:
        rope.set_theta(config, rope_theta)
    spec = no_rope_layers if no_rope_layers is not None else getattr(config, rope.CONFIG_KEY, None)
    return config, (rope.resolve_layers(config, spec) if spec is not None else None)


def load_model(
    path: str,
    trust_remote_code: bool = False,
    dtype=None,
    rope_theta: float | None = None,
    no_rope_layers: list[int | str] | None = None,
    **kwargs,
):
    """Load a causal LM (float32 unless `dtype` says otherwise), its RoPE settings applied (see model_config)."""
    import torch
    from transformers import AutoModelForCausalLM

    from knowtune.models import rope

    config, layers = model_config(path, trust_remote_code, rope_theta, no_rope_layers)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            path, config=config, trust_remote_code=trust_remote_code, dtype=dtype or torch.float32, **kwargs
        )
    except OSError as e:
        raise UserError(f"cannot load model from '{path}': {str(e).splitlines()[0]}") from e
    if layers is not None:
        rope.disable_rope(model, layers)
    return model


def load_trained(
    path: str | os.PathLike,
    *,
    base_model: str | None = None,
    dtype=None,
    merge: bool = False,
    trust_remote_code: bool = False,
):
    """(model, tokenizer) from a final_model/ directory, a full model or a PEFT adapter, RoPE settings applied.

    An adapter loads onto `base_model` (default: the base named in its adapter_config.json) and is
    merged into it when `merge` is true; otherwise the result is a PeftModel.
    """
    folder = Path(path).expanduser()
    if (folder / "adapter_config.json").is_file():
        from peft import PeftModel

        from knowtune.models import rope

        if base_model is None:
            base_model = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8")).get(
                "base_model_name_or_path"
            )
            if not base_model:
                raise UserError(f"{folder}/adapter_config.json names no base_model_name_or_path")
        theta, layers = rope.read_sidecar(folder)
        base = load_model(resolve_model(base_model), trust_remote_code, dtype, rope_theta=theta, no_rope_layers=layers)
        model = PeftModel.from_pretrained(base, str(folder))
        if merge:
            model = model.merge_and_unload()
    elif (folder / "config.json").is_file():
        model = load_model(str(folder), trust_remote_code, dtype)
    else:
        raise UserError(f"{folder}: neither a model (config.json) nor a PEFT adapter (adapter_config.json)")
    return model, load_tokenizer(str(folder), trust_remote_code)


def save_merged(adapter_dir: str | os.PathLike, out_dir: Path, trust_remote_code: bool = False) -> Path:
    """Merge a PEFT adapter into its base and save the result (tokenizer, RoPE settings included) once."""
    if (out_dir / "config.json").is_file():
        return out_dir  # merged by an earlier attempt of this run
    print(f"Merging the adapter {adapter_dir} into its base model -> {out_dir}", flush=True)
    model, tokenizer = load_trained(adapter_dir, merge=True, trust_remote_code=trust_remote_code)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        tmp.rename(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


