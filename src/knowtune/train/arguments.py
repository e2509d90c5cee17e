"""The trainer's arguments (TRL's SFTConfig), every field knowtune sets, in one place.

`trainer_args` builds them from the config (schedule, evaluation and saving, precision, the engine's
settings) before the model loads, because the data, the process group and the run directory need
them first. `settle_batching` sets the batching fields once the model is loaded: whether a batch can
be padding-free depends on its attention implementation (knowtune.train.batching).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

import torch

from knowtune.errors import UserError, missing_extra
from knowtune.train.batching import choose_batching
from knowtune.train.config import TrainConfig
from knowtune.train.distributed import deepspeed_settings

log = logging.getLogger("knowtune")


def _precision(cfg: TrainConfig) -> dict:
    choice = cfg.training.precision
    if choice == "auto":
        choice = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"
    return {"bf16": choice == "bf16", "fp16": choice == "fp16"}


def _report_to(cfg: TrainConfig) -> list[str]:
    if not cfg.training.wandb_project:
        return []
    try:
        import wandb  # noqa: F401
    except ImportError:
        raise missing_extra("wandb", "wandb") from None
    os.environ.setdefault("WANDB_PROJECT", cfg.training.wandb_project)
    return ["wandb"]


def trainer_args(cfg: TrainConfig, run_dir: Path, has_eval: bool):
    from trl import SFTConfig

    t = cfg.training
    if t.early_stopping_patience and not has_eval:
        raise UserError(
            "training.early_stopping_patience needs eval data: set data.eval or data.validation_split_percentage"
        )
    eval_strategy = ("steps" if t.eval_steps else "epoch") if has_eval else "no"
    save_strategy, save_steps = ("steps", t.save_steps) if t.save_steps else ("epoch", 500)
    best_metric, greater = t.metric_for_best_model, t.greater_is_better
    if cfg.selection.retention:
        from knowtune.train.trainer import SELECTION

        best_metric, greater = SELECTION, True
    if t.early_stopping_patience or cfg.selection.retention:  # the best checkpoint must exist when it is chosen
        save_strategy, save_steps = eval_strategy, t.eval_steps or 500
    return SFTConfig(
        output_dir=str(run_dir / "checkpoints"),
        learning_rate=t.learning_rate,
        lr_scheduler_type=t.lr_scheduler_type,
        warmup_steps=t.warmup_ratio,  # transformers 5: a float below 1 is a share of the steps
        per_device_train_batch_size=t.per_device_train_batch_size,
        per_device_eval_batch_size=t.per_device_eval_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        num_train_epochs=t.num_train_epochs,
        max_steps=t.max_steps,
        activation_checkpointing_kwargs={"use_reentrant": False} if t.gradient_checkpointing else None,
        dataloader_pin_memory=torch.cuda.is_available(),
        max_grad_norm=t.max_grad_norm,
        weight_decay=t.weight_decay,
        seed=t.seed,
        data_seed=t.seed,
        logging_steps=t.logging_steps,
        eval_strategy=eval_strategy,
        eval_steps=t.eval_steps,
        save_strategy=save_strategy,
        save_steps=save_steps,
        save_total_limit=t.save_total_limit,
        load_best_model_at_end=bool(t.early_stopping_patience) or cfg.selection.retention,
        metric_for_best_model=best_metric,
        greater_is_better=greater,
        report_to=_report_to(cfg),
        # knowtune.data already tokenized, masked, truncated and counted the samples.
        max_length=cfg.data.max_seq_length,
        use_liger_kernel=liger_kernel(cfg),
        dataset_kwargs={"skip_prepare_dataset": True},
        disable_tqdm=False,
        **_engine(cfg),
        **_precision(cfg),
    )


def _engine(cfg: TrainConfig) -> dict:
    """TrainingArguments for the engine; `activation_checkpointing` is set here because FSDP does its own."""
    kwargs = {
        "ddp_timeout": cfg.ddp_timeout,
        # Every trainable parameter of every method takes part in each forward; frozen ones are not DDP's.
        "ddp_find_unused_parameters": False,
        "activation_checkpointing": cfg.training.gradient_checkpointing,
    }
    if not torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", 1)) > 1:
        kwargs.update(use_cpu=True, ddp_backend="gloo")  # else accelerate sees no GPU and runs undistributed
    if cfg.distributed == "fsdp":
        # FULL_STATE_DICT: save_model gathers the shards, so final_model/ is a whole model.
        kwargs["fsdp"] = True
        kwargs["fsdp_config"] = {
            "state_dict_type": "FULL_STATE_DICT",
            "auto_wrap_policy": "TRANSFORMER_BASED_WRAP",  # wraps the model's own decoder-layer class
            "activation_checkpointing": cfg.training.gradient_checkpointing,
        }
        kwargs["activation_checkpointing"] = False
    elif cfg.distributed == "deepspeed":
        kwargs["deepspeed"] = deepspeed_settings(cfg)
    return kwargs


def settle_batching(args, model, batching: str) -> str:
    """Set the trainer arguments for `batching` on this (loaded) model; return the batching used."""
    batching = choose_batching(model, batching)
    args.padding_free = batching == "padding_free"
    if args.padding_free:
        args.max_length = None  # TRL checks that nothing is left to truncate: knowtune.data cut the samples already
    if batching == "by_length":
        args.train_sampling_strategy = "group_by_length"
    log.info("batching: %s", batching)
    return batching


def liger_kernel(cfg: TrainConfig) -> bool:
    """Liger Kernel's fused layers (RMSNorm, SwiGLU, RoPE), where `training.liger_kernel` asks and a GPU trains."""
    if not cfg.training.liger_kernel:
        return False
    if not torch.cuda.is_available():
        log.warning("training.liger_kernel: Liger Kernel runs on CUDA GPUs only; training without it on this CPU")
        return False
    if importlib.util.find_spec("liger_kernel") is None:
        raise missing_extra("liger-kernel", "liger")
    return True
