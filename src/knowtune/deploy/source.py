"""What `export`, `chat` and `serve` start from: a run directory, a model or adapter directory, or a shipped alias.

Everything is resolved and checked here (final_model present, weights on disk, the base an adapter
needs, the questions that prove the run's knowledge) before any model loads, so a wrong path fails
in a second with one line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from knowtune.errors import UserError
from knowtune.models import SHIPPED_MODELS, load_model, load_tokenizer, load_trained, resolve_model
from knowtune.models import rope


@dataclass(frozen=True)
class Source:
    name: str  # the run's or model's name, used for exported file names
    model_dir: Path  # final_model/ or the model directory
    adapter: bool  # model_dir is a PEFT adapter
    run_dir: Path | None = None
    base: str | None = None  # the base model (for an adapter, or a full run's config.yaml), or None
    heldout: Path | None = None  # the run's held-out questions, when it has any
    system_prompt: str | None = None  # data.system_prompt the run trained with


def _run_config(run_dir: Path) -> dict:
    path = run_dir / "config.yaml"
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.is_file() else {}


def _heldout(run_dir: Path, config: dict) -> Path | None:
    """The questions that grade the run: test.jsonl that `knowtune run` wrote (never used to pick the checkpoint),
    heldout.jsonl of an older run, else the file a train config named (if it is still there)."""
    for name in ("test.jsonl", "heldout.jsonl"):
        if (run_dir / name).is_file():
            return run_dir / name
    named = config.get("heldout")
    return Path(named) if named and Path(named).is_file() else None


def _adapter_base(model_dir: Path) -> str:
    named = json.loads((model_dir / "adapter_config.json").read_text(encoding="utf-8")).get("base_model_name_or_path")
    if not named:
        raise UserError(f"{model_dir}/adapter_config.json names no base_model_name_or_path")
    return resolve_model(named)


def resolve_source(path: str) -> Source:
    if path in SHIPPED_MODELS:
        return Source(name=path, model_dir=Path(resolve_model(path)), adapter=False)
    given = Path(path).expanduser()
    if not given.exists():
        raise UserError(f"{given}: no such run directory or model directory")
    if given.name == "final_model" and (given.parent / "config.yaml").is_file():
        given = given.parent
    run_dir = given if (given / "config.yaml").is_file() or (given / "final_model").exists() else None
    model_dir = given / "final_model" if run_dir else given
    if run_dir and not model_dir.is_dir():
        raise UserError(f"{run_dir}: no final_model/ in this run directory (did training finish?)")
    adapter = (model_dir / "adapter_config.json").is_file()
    if not adapter and not (model_dir / "config.json").is_file():
        raise UserError(f"{model_dir}: neither a model (config.json) nor a PEFT adapter (adapter_config.json)")
    weights = [p.name for p in model_dir.iterdir() if p.suffix in (".safetensors", ".bin")]
    if not any(n.startswith("adapter_model" if adapter else ("model", "pytorch_model")) for n in weights):
        raise UserError(f"{model_dir}: no weights (*.safetensors) beside its config; was training interrupted?")
    config = _run_config(run_dir) if run_dir else {}
    base = _adapter_base(model_dir) if adapter else (resolve_model(config["model"]) if config.get("model") else None)
    return Source(
        name=(run_dir or model_dir).resolve().name,
        model_dir=model_dir,
        adapter=adapter,
        run_dir=run_dir,
        base=base,
        heldout=_heldout(run_dir, config) if run_dir else None,
        system_prompt=(config.get("data") or {}).get("system_prompt"),
    )


def no_rope_layers(source: Source) -> list | None:
    """Layers the run trained without RoPE: a plain export would silently put RoPE back on them."""
    if source.adapter:
        return rope.read_sidecar(source.model_dir)[1]
    config = json.loads((source.model_dir / "config.json").read_text(encoding="utf-8"))
    return config.get(rope.CONFIG_KEY)


def load_source(source: Source, dtype=None):
    """(model, tokenizer) of the tuned model, an adapter merged into its base."""
    return load_trained(source.model_dir, base_model=source.base if source.adapter else None, dtype=dtype, merge=True)


def load_base(source: Source, dtype=None):
    """(model, tokenizer) of the model the run started from."""
    if source.base is None:
        raise UserError(f"{source.model_dir}: cannot tell which base model it was tuned from (no run config.yaml)")
    return load_model(source.base, dtype=dtype), load_tokenizer(source.base)
