"""What `knowtune eval` evaluates: a base model, a base model plus a PEFT adapter, or a run.

Everything is resolved and checked (paths, weights on disk, the base an adapter needs) before any
model is loaded, so a wrong path fails in a second, not after minutes of evaluation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml

from knowtune.errors import UserError
from knowtune.evaluate.config import EvalConfig
from knowtune.evaluate.eval_data import fingerprint
from knowtune.models import load_model, load_tokenizer, resolve_model



@dataclass(frozen=True)
class Target:
    label: str  # "model" (what was asked for) or "base" (compare_base)
    base: str  # a model directory or Hub id
    adapter: str | None = None

    @cached_property
    def base_sha256(self) -> str | None:
        """The base model's files hashed once (hundreds of MB): the answer cache's key and results.json both use it."""
        return fingerprint(self.base)

    def describe(self) -> dict:
        found = {"base": self.base, "base_sha256": self.base_sha256}
        if self.adapter:
            found |= {"adapter": self.adapter, "adapter_sha256": fingerprint(self.adapter)}
        return found


def _run_dir(path: Path) -> tuple[Path | None, Path]:
    """(run directory or None, the model directory inside it or the path itself)."""
    if (path / "final_model").is_dir():
        return path, path / "final_model"
    if path.name == "final_model" and (path.parent / "config.yaml").is_file():
        return path.parent, path
    return None, path


def check_weights(path: str, adapter: bool = False) -> None:
    """A local model or adapter directory must hold weights (a Hub id is checked when loaded)."""
    folder = Path(path)
    if not folder.is_dir():
        return
    names = [p.name for p in folder.iterdir() if p.is_file()]
    # training_args.bin and the like sit beside the weights, so only the weights' own names count.
    prefix = "adapter_model" if adapter else ("model", "pytorch_model")
    found = any(n.startswith(prefix) and n.endswith((".safetensors", ".bin")) for n in names)
    if not found:
        kind = "adapter weights (adapter_model.safetensors)" if adapter else "weights (*.safetensors or *.bin)"
        raise UserError(f"model path {folder} has no {kind}; was training interrupted before it saved?")


def _adapter_base(adapter: Path, cfg: EvalConfig) -> str:
    if cfg.base_model:
        return resolve_model(cfg.base_model, cfg.cache_dir)
    config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    named = config.get("base_model_name_or_path")
    if not named:
        raise UserError(f"{adapter}/adapter_config.json names no base_model_name_or_path; give --base_model")
    try:
        return resolve_model(named, cfg.cache_dir)
    except UserError as e:
        raise UserError(f"{adapter}/adapter_config.json: its base model cannot be loaded here ({e}); give --base_model") from e


def _run_base(run_dir: Path | None, cfg: EvalConfig, model_dir: Path) -> str:
    """The base of a fully fine-tuned model, for compare_base."""
    if cfg.base_model:
        return resolve_model(cfg.base_model, cfg.cache_dir)
    if run_dir is not None:
        named = (yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8")) or {}).get("model")
        if named:
            return resolve_model(named, cfg.cache_dir)
    raise UserError(f"compare_base: cannot tell which base model {model_dir} was tuned from; give --base_model")


def resolve_targets(cfg: EvalConfig) -> tuple[list[Target], Path | None]:
    """The models to evaluate (base first when compare_base) and the run directory, if one was given."""
    if cfg.adapter:
        run_dir, adapter = _run_dir(Path(cfg.adapter).expanduser())
        if not (adapter / "adapter_config.json").is_file():
            raise UserError(f"adapter {adapter} has no adapter_config.json: not a PEFT adapter directory")
        base = resolve_model(cfg.base_model or cfg.model_path, cfg.cache_dir)
    else:
        run_dir, model_dir = _run_dir(Path(cfg.model_path).expanduser())
        if (model_dir / "adapter_config.json").is_file():
            adapter, base = model_dir, _adapter_base(model_dir, cfg)
        else:
            adapter, base = None, resolve_model(str(model_dir) if run_dir else cfg.model_path, cfg.cache_dir)
    targets = [Target("model", base, str(adapter.resolve()) if adapter else None)]
    if cfg.compare_base:
        if adapter is None:
            base_of_full = _run_base(run_dir, cfg, Path(base))
            if base_of_full == base:
                raise UserError(f"compare_base: {base} is itself the base model; evaluate a tuned model or adapter")
            targets.insert(0, Target("base", base_of_full))
        else:
            targets.insert(0, Target("base", base))
    for target in targets:
        check_weights(target.base)
        if target.adapter:
            check_weights(target.adapter, adapter=True)
    return targets, run_dir


def load_target_tokenizer(target: Target, trust_remote_code: bool = False):
    # Training saves the tokenizer beside the adapter; its chat template is the one trained with.
    beside = target.adapter and (Path(target.adapter) / "tokenizer_config.json").is_file()
    return load_tokenizer(target.adapter if beside else target.base, trust_remote_code)


def load_target_model(target: Target, trust_remote_code: bool = False):
    """The model on the best device; an adapter is merged into its base, for faster generation."""
    import torch

    cuda = torch.cuda.is_available()
    dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32
    model = load_model(target.base, trust_remote_code, dtype=dtype)
    if target.adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, target.adapter).merge_and_unload()
    return model.to("cuda" if cuda else "cpu")
