"""Inside each training process: the engine's checks, and work done once for all processes.

torchrun (or `accelerate launch`) starts the processes and transformers' Trainer, through accelerate,
runs DDP, FSDP or DeepSpeed. What knowtune adds here (the trainer arguments each engine needs are in
knowtune.train.arguments): a check that this machine has what the engine needs, rank 0 as the only process that writes the run
directory, and a dataset tokenized once per node (by its main process, cached on disk) that the
other processes read instead of tokenizing it again while the first waits on them.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Callable, TypeVar

import torch

from knowtune.errors import UserError, missing_extra
from knowtune.train.config import TrainConfig

T = TypeVar("T")
SHIPPED_DEEPSPEED = ("zero2", "zero3")


def in_launched_process() -> bool:
    """True inside a process started by torchrun or accelerate launch (they set LOCAL_RANK)."""
    return "LOCAL_RANK" in os.environ


def deepspeed_settings(cfg: TrainConfig) -> dict:
    """The DeepSpeed JSON: a shipped one by name, or the user's file, checked so final_model comes out whole."""
    if cfg.deepspeed_config in SHIPPED_DEEPSPEED:
        text = (resources.files("knowtune.train") / "deepspeed" / f"{cfg.deepspeed_config}.json").read_text()
        return json.loads(text)
    path = Path(cfg.deepspeed_config).expanduser()
    if not path.is_file():
        raise UserError(f"deepspeed_config {path}: no such file (or use one of {', '.join(SHIPPED_DEEPSPEED)})")
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise UserError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None
    zero = settings.get("zero_optimization", {})
    if zero.get("stage") == 3 and not zero.get("stage3_gather_16bit_weights_on_model_save"):
        raise UserError(
            f"{path}: ZeRO-3 without zero_optimization.stage3_gather_16bit_weights_on_model_save=true saves no "
            "usable final_model; set it to true"
        )
    return settings


def check_engine(cfg: TrainConfig) -> None:
    """Fail in one line when this machine cannot run the chosen engine or process count."""
    if cfg.distributed == "ddp":
        return
    if not torch.cuda.is_available():
        raise UserError(
            f"distributed={cfg.distributed} needs CUDA GPUs and this machine has none; "
            "use distributed=ddp (it runs on CPUs with gloo)"
        )
    if cfg.distributed == "deepspeed":
        try:
            import deepspeed  # noqa: F401
        except ImportError:
            raise missing_extra("deepspeed", "deepspeed") from None
        deepspeed_settings(cfg)
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", 1))
    if per_node > torch.cuda.device_count():
        raise UserError(f"{per_node} processes per node but only {torch.cuda.device_count()} GPUs are visible")


def on_main(args, work: Callable[[], T]) -> T:
    """Run `work` on the global main process only; every process gets its result (or its UserError)."""
    if args.world_size == 1:
        return work()
    outcome = [None]
    if args.process_index == 0:
        try:
            outcome = [("ok", work())]
        except UserError as e:
            outcome = [("error", str(e))]
    torch.distributed.broadcast_object_list(outcome, src=0)
    kind, value = outcome[0]
    if kind == "error":
        raise UserError(value)
    return value


@contextlib.contextmanager
def loading_alone(args):
    """Inside, from_pretrained loads a whole model in this process only, even in a ZeRO-3 run.

    ZeRO-3 makes every from_pretrained partition the weights over all processes, which then wait on
    each other; rank 0 loading a model by itself (to merge an adapter, to answer held-out questions)
    must not do that.
    """
    zero3 = getattr(args, "hf_deepspeed_config", None)
    if zero3 is None:
        yield
        return
    from transformers.integrations.deepspeed import set_hf_deepspeed_config, unset_hf_deepspeed_config

    unset_hf_deepspeed_config()
    try:
        yield
    finally:
        set_hf_deepspeed_config(zero3)


def _stat(name: str) -> list:
    """What identifies a data source or model for the cache: name, and sizes and times of its files."""
    path = Path(name).expanduser()
    if path.is_file():
        return [str(path.resolve()), path.stat().st_size, path.stat().st_mtime_ns]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        return [str(path.resolve())] + [[str(p.relative_to(path)), p.stat().st_size, p.stat().st_mtime_ns] for p in files]
    return [name]  # a Hub name


def _fingerprint(cfg: TrainConfig, tokenizer, model_path: str) -> str:
    key = {
        "knowtune": importlib.metadata.version("knowtune"),
        "data": cfg.data.model_dump(mode="json"),
        "seed": cfg.training.seed,
        "tokenizer": [len(tokenizer), tokenizer.chat_template],
        "sources": [_stat(name) for name in [*cfg.data.train, *cfg.data.eval, model_path]],
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


def datasets_once(cfg: TrainConfig, tokenizer, args, model_path: str):
    """(train, eval or None, stats) as knowtune.data.build_datasets makes them, tokenized once per node."""
    import datasets

    from knowtune.data import build_datasets, ensure_chat_template
    from knowtune.models import cache_dir

    if args.world_size == 1:
        return build_datasets(cfg.data, tokenizer, seed=cfg.training.seed, cache_dir=cfg.cache_dir)
    folder = cache_dir(cfg.cache_dir) / "datasets" / _fingerprint(cfg, tokenizer, model_path)
    # Per node (local=True): a node whose disk is not shared tokenizes for itself.
    with args.main_process_first(local=True, desc="tokenizing the dataset"):
        if args.local_process_index == 0 and not (folder / "stats.json").is_file():
            train, evaluation, stats = build_datasets(cfg.data, tokenizer, seed=cfg.training.seed, cache_dir=cfg.cache_dir)
            _save_atomically(folder, train, evaluation, stats)
        if not (folder / "stats.json").is_file():
            raise UserError(f"the main process did not tokenize the dataset into {folder}; see its error")
    stats = json.loads((folder / "stats.json").read_text(encoding="utf-8"))
    if stats["shape"] != "text":
        ensure_chat_template(tokenizer, cfg.data)  # as build_datasets would have, so it is saved with the model
    evaluation = datasets.load_from_disk(str(folder / "eval")) if (folder / "eval").is_dir() else None
    return datasets.load_from_disk(str(folder / "train")), evaluation, stats


def _save_atomically(folder: Path, train, evaluation, stats: dict) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        train.save_to_disk(str(tmp / "train"))
        if evaluation is not None:
            evaluation.save_to_disk(str(tmp / "eval"))
        (tmp / "stats.json").write_text(json.dumps(stats), encoding="utf-8")
        try:
            tmp.rename(folder)
        except OSError:  # another node on a shared disk finished first: its copy is the same
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
