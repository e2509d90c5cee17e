"""The config of `knowtune train`: one YAML per run, every field documented here once."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from knowtune.config import Strict, deep_merge
from knowtune.data.config import DataConfig
from knowtune.models import DEFAULT_MODEL


class LoraSettings(Strict):
    r: int = Field(16, gt=0, description="LoRA rank.")
    alpha: int = Field(32, gt=0, description="LoRA alpha (scaling = alpha / r).")
    dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA path.")
    target_modules: list[str] | Literal["all-linear"] = Field(
        "all-linear", description="Modules that get adapters: 'all-linear' or names such as [q_proj, v_proj]."
    )
    config_file: str | None = Field(
        None,
        description="A PEFT adapter_config.json (as in seed 001's lora_configs/); its r, lora_alpha, "
        "lora_dropout and target_modules replace the values above.",
    )
    quantization_bits: Literal[4, 8] = Field(4, description="method=qlora: load the base model in 4 or 8 bits.")


class FreezeSettings(Strict):
    trainable_layers: list[int | str] = Field(
        default_factory=list,
        description="method=freeze: decoder layers to train, as indices or ranges ('20-23'); negative "
        "indices count from the end (-1 = last layer).",
    )
    trainable_modules: list[str] = Field(
        default_factory=lambda: ["all"],
        description="Within the trainable layers, parameter names containing one of these (e.g. mlp, "
        "self_attn); 'all' = the whole layer.",
    )
    extra_modules: list[str] = Field(
        default_factory=list,
        description="Parameters outside the layers to train too, by name part (e.g. embed_tokens, lm_head, norm).",
    )


class ReplaySettings(Strict):
    ratio: float = Field(
        0.0, ge=0, description="Replay samples per training sample: the base model's own answers to general "
        "prompts, mixed into training so it keeps what it knew (0 = off).",
    )
    shipped_prompts: bool = Field(True, description="Draw replay prompts from the shipped general set (about 300).")
    kinds: list[Literal["fact", "definition", "instruction", "chat"]] | None = Field(
        None, description="Only the shipped prompts of these kinds (None = all): e.g. [fact] when the new data are "
        "facts, so replay holds the answers to questions of the same shape.",
    )
    prompts: list[str] = Field(
        default_factory=list, description="More replay prompts: JSONL files with a `prompt` field, or text files, one per line."
    )
    max_new_tokens: int = Field(
        128, gt=0, description="Longest replayed answer; an answer cut by it ends at its last full sentence."
    )
    loss: Literal["kl", "ce"] = Field(
        "kl", description="kl: match the base model's next-token distribution over each replayed answer (its "
        "kl_top_k likeliest tokens and the rest), zero until the model drifts; ce: train on the answer's tokens.",
    )
    kl_top_k: int = Field(16, gt=0, le=1024, description="Tokens of the base model's distribution kept per position (loss: kl).")


class SelectionSettings(Strict):
    retention: bool = Field(
        False,
        description="At every evaluation, also ask the shipped general-knowledge suite (retention) and the "
        "`heldout` questions, and keep the checkpoint with the best held-out accuracy among those whose "
        "retention stays within `tolerance` of the base model's (measured before training).",
    )
    tolerance: float = Field(
        1 / 12, ge=0, le=1, description="How far retention (share of suite questions answered) may fall below the base model's."
    )
    missed: str | None = Field(
        None, description="A QA file of suite questions the base model does not answer, with base_share (`knowtune "
        "run` writes both): selection then also asks them and estimates the share of the whole suite answered, "
        "base_share x (share of the 36 answered) + (1 - base_share) x (share of these answered), so that questions "
        "gained count against questions lost as the verdict counts them.",
    )
    base_share: float | None = Field(None, gt=0, lt=1, description="With missed: the share of the suite the base model answers.")
    base_answers: str | None = Field(
        None, description="The base model's answers to the whole suite (a predictions file of `knowtune eval`; "
        "`knowtune run` writes it): the baseline evaluation before training reads its answers to the suite questions "
        "selection asks instead of asking them again. A question it lacks is asked.",
    )

    @model_validator(mode="after")
    def _missed_with_share(self):
        if (self.missed is None) != (self.base_share is None):
            raise ValueError("selection.missed and selection.base_share go together: set both or neither")
        return self


class EarlyValidation(Strict):
    at_epoch: float = Field(
        1, gt=0, description="Validate at the first evaluation at or after this epoch (evaluations come at each "
        "epoch end, or every training.eval_steps)."
    )
    criteria: list[str] = Field(
        default_factory=list,
        description="Success criteria such as f1>=0.85 or eval_loss<2 (a bare name matches the one metric "
        "eval_<dataset>_<name>); a run that misses one stops there, with state stopped_early.",
    )

    @field_validator("criteria")
    @classmethod
    def _parsable(cls, v: list[str]) -> list[str]:
        from knowtune.errors import UserError
        from knowtune.train.criteria import parse_all

        try:
            parse_all(v)
        except UserError as e:
            raise ValueError(str(e).removeprefix("criteria: ")) from None
        return v


class TrainingSettings(Strict):
    learning_rate: float = Field(2e-4, gt=0, description="Peak learning rate.")
    lr_scheduler_type: Literal[
        "linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup"
    ] = Field("cosine", description="Learning-rate schedule after warmup.")
    warmup_ratio: float = Field(0.0, ge=0, lt=1, description="Share of the steps spent warming up.")
    per_device_train_batch_size: int = Field(8, gt=0, description="Samples per device per step.")
    per_device_eval_batch_size: int = Field(8, gt=0, description="Samples per device per eval step.")
    gradient_accumulation_steps: int = Field(1, gt=0, description="Steps whose gradients add up before an update.")
    num_train_epochs: float = Field(3, gt=0, description="Epochs (ignored when max_steps > 0).")
    max_steps: int = Field(-1, description="Total optimizer steps; -1 = use num_train_epochs.")
    gradient_checkpointing: bool = Field(False, description="Recompute activations to save memory.")
    liger_kernel: bool = Field(
        False, description="On a GPU, Liger Kernel's fused layers (RMSNorm, SwiGLU, RoPE; pip install "
        "'knowtune[liger]'): less activation memory. Off by default: on one H200 it trained 3.2x slower "
        "(benchmarks/gpu_methods.py, README). Ignored on a CPU.",
    )
    batching: Literal["auto", "padding_free", "by_length", "padded"] = Field(
        "auto",
        description="How samples form a batch. padding_free: end to end in one row, position ids restarting at "
        "each sample (no padding; flash attention then attends within each sample only, sdpa/eager over the "
        "whole row under a block-diagonal mask); by_length: samples of similar length together (transformers' "
        "LengthGroupedSampler), padded to the longest; padded: random batches padded to the longest; auto: "
        "padding_free with flash attention, by_length otherwise.",
    )
    max_grad_norm: float = Field(1.0, ge=0, description="Gradient clipping norm (0 = off).")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    seed: int = Field(42, description="Seed for data order, splits and initialisation.")
    logging_steps: int = Field(1, gt=0, description="Log the training loss every N steps (also losses.npy).")
    eval_steps: int | float | None = Field(
        None, gt=0, description="Evaluate every N steps (a number below 1: that share of all steps, e.g. 0.125 = "
        "eight times a run); None = at the end of each epoch (when there is eval data).",
    )
    save_steps: int | None = Field(None, gt=0, description="Checkpoint every N steps; None = at the end of each epoch.")
    save_total_limit: int | None = Field(2, gt=0, description="Keep only the last K checkpoints (None = all).")
    early_stopping_patience: int | None = Field(
        None, gt=0, description="Stop after this many evaluations without improvement of metric_for_best_model."
    )
    metric_for_best_model: str = Field(
        "eval_loss", description="Metric watched by early stopping, e.g. eval_loss or eval_<name>_f1 (see eval_datasets)."
    )
    greater_is_better: bool | None = Field(None, description="Whether a larger metric is better (default: not for *loss).")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="auto = float32 on a CPU, bf16 mixed precision on a GPU that supports it."
    )
    eval_datasets: list[str] = Field(
        default_factory=list,
        description="QA or extraction files the model answers at every evaluation; their metrics are logged as "
        "eval_<file stem>_<metric> (exact_match, f1, contains; or precision, recall, f1) beside eval_loss. "
        "With no data.eval and no validation split, they are also the eval_loss data.",
    )
    eval_max_samples: int | None = Field(200, gt=0, description="At most this many records of each eval_datasets file.")
    eval_max_new_tokens: int = Field(64, gt=0, description="Answer length limit when scoring eval_datasets.")
    wandb_project: str | None = Field(None, description="Also log to this Weights & Biases project (needs knowtune[wandb]).")
    time_budget_hours: float | None = Field(
        None, gt=0, description="After the first few steps, print the projected total training time against this "
        "budget (fits / exceeds); None = print the projection alone.",
    )
    early_validation: EarlyValidation | None = Field(
        None,
        description="Check the run once, at a chosen point, against success criteria and stop it there if it misses "
        "them (a sweep also stops a trial that trails the leader); the metrics go to early_validation.json.",
    )

    @field_validator("eval_steps")
    @classmethod
    def _whole_or_share(cls, value):
        if isinstance(value, float) and value >= 1:
            if not value.is_integer():
                raise ValueError("must be a whole number of steps, or a share of the run below 1 (e.g. 0.25)")
            return int(value)
        return value


class TrainConfig(Strict):
    model: str = Field(
        DEFAULT_MODEL, description="Base model: a shipped alias, a local transformers model directory, or a Hub id."
    )
    trust_remote_code: bool = Field(False, description="Allow model code from the model directory/Hub to run.")
    cache_dir: str | None = Field(None, description="Where converted models and Hub downloads go (default $KNOWTUNE_CACHE or ~/.cache/knowtune).")
    method: Literal["lora", "qlora", "full", "freeze"] = Field("lora", description="What to train.")
    data: DataConfig = Field(description="Training data (data.train is required).")
    lora: LoraSettings = Field(default_factory=LoraSettings)
    freeze: FreezeSettings = Field(default_factory=FreezeSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    heldout: str | None = Field(
        None,
        description="A QA JSONL (question/answer) of held-out questions: the model answers them before and "
        "after training and the accuracy (gold answer contained in the reply) is reported.",
    )
    replay: ReplaySettings = Field(default_factory=ReplaySettings)
    selection: SelectionSettings = Field(default_factory=SelectionSettings)
    experiment_name: str = Field("run", description="Run directory name under base_output_dir.")
    base_output_dir: str = Field("runs", description="Parent directory of run directories.")
    resume: str | None = Field(None, description="'auto' (latest checkpoint of this run, if any) or a checkpoint path.")
    overwrite: bool = Field(False, description="Replace an existing run directory instead of refusing.")

    distributed: Literal["ddp", "fsdp", "deepspeed"] = Field(
        "ddp",
        description="How several processes share the work: ddp (a full copy per process; gloo on CPUs), fsdp "
        "(sharded, saves a full state dict) or deepspeed (see deepspeed_config). Start several processes with "
        "--nproc_per_node N; fsdp and deepspeed need CUDA GPUs and use them all unless told otherwise.",
    )
    deepspeed_config: str = Field(
        "zero2",
        description="distributed=deepspeed: zero2 or zero3 (shipped configs), or the path of your own DeepSpeed "
        "JSON; a ZeRO-3 config must set stage3_gather_16bit_weights_on_model_save so final_model is complete.",
    )
    gpu_ids: list[int] | None = Field(
        None,
        description="Train on these GPUs, one process each; indices as torch numbers them (nvidia-smi's numbers "
        "when CUDA_DEVICE_ORDER=PCI_BUS_ID).",
    )
    gpu_type: str | None = Field(
        None,
        description="Train on every GPU whose name contains this text (e.g. A800), one process each; auto = all GPUs.",
    )
    ddp_timeout: int = Field(
        1800, gt=0, description="Seconds a process waits for the others (collectives, barriers) before failing."
    )
    rope_theta: float | None = Field(
        None, gt=0, description="Override the RoPE base frequency (None = the model's own, as recorded in its config)."
    )
    no_rope_layers: list[int | str] | None = Field(
        None,
        description="Decoder layers that get no rotary position embedding (NoPE), as indices or ranges ('20-32'); "
        "llama, qwen2 and qwen3 models. None = as recorded by the model (a knowtune-trained model keeps its "
        "setting); [] = RoPE on every layer.",
    )
    stages: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Train in stages, in order, each a partial override of this config (e.g. {method: freeze, "
        "training: {learning_rate: 1e-4}}); stage N+1 starts from stage N's final model (a LoRA stage is merged "
        "first); each stage has its own run directory <experiment_name>/stage-N/.",
    )
    start_stage: int = Field(
        1, ge=1, description="Run the stages from this one on; the earlier stages' results must exist already."
    )

    @field_validator("experiment_name")
    @classmethod
    def _plain_name(cls, v: str) -> str:
        if not v or "/" in v or v in {".", ".."}:
            raise ValueError("must be a plain directory name (no '/')")
        return v

    @model_validator(mode="after")
    def _consistent(self):
        if self.method == "freeze" and not (self.freeze.trainable_layers or self.freeze.extra_modules):
            raise ValueError("method=freeze needs freeze.trainable_layers or freeze.extra_modules")
        if self.resume and self.overwrite:
            raise ValueError("resume and overwrite exclude each other")
        if self.training.eval_datasets and self.distributed != "ddp":
            raise ValueError("training.eval_datasets generates answers on one process's model: use distributed=ddp")
        if self.replay.ratio > 0 and self.replay.loss == "kl" and self.distributed != "ddp":
            raise ValueError(f"replay.loss=kl reads the LM head's weights whole, which distributed={self.distributed} "
                             "shards: use replay.loss=ce there")
        if self.data.streaming and (self.training.max_steps <= 0 or self.replay.ratio > 0):
            raise ValueError("data.streaming needs training.max_steps (a stream has no length to count epochs in) "
                             "and no replay (replay.ratio=0)")
        if self.selection.retention and not self.heldout:
            raise ValueError("selection.retention chooses on held-out accuracy: set heldout (a QA JSONL)")
        if self.selection.retention and self.training.early_stopping_patience:
            raise ValueError("selection.retention and training.early_stopping_patience both choose the checkpoint; use one")
        if self.selection.retention and not self.data.eval and not self.data.validation_split_percentage:
            self.data.eval = [self.heldout]  # eval_loss on the held-out questions, beside the generated answers
        if self.training.eval_datasets and not self.data.eval and not self.data.validation_split_percentage:
            self.data.eval = list(self.training.eval_datasets)  # held-out questions give a meaningful eval_loss
        if self.training.early_validation and not self.data.eval and not self.data.validation_split_percentage:
            raise ValueError("training.early_validation needs evaluations: set training.eval_datasets, data.eval "
                             "or data.validation_split_percentage")
        if self.gpu_ids is not None and self.gpu_type is not None:
            raise ValueError("set gpu_ids or gpu_type, not both")
        if self.start_stage > max(len(self.stages), 1):
            raise ValueError(f"start_stage={self.start_stage}, but the config lists {len(self.stages)} stages")
        if self.stages and self.resume not in (None, "auto"):
            raise ValueError("with stages, resume must be 'auto' (each stage resumes from its own checkpoints)")
        for index in range(1, len(self.stages) + 1):
            self.stage_config(index)  # a bad stage fails now, not after the stages before it have trained
        return self

    def stage_config(self, index: int) -> TrainConfig:
        """Stage `index` (1-based): this config with the stage's overrides applied, and no stages of its own.

        Where the stage trains and from which model is up to the caller (knowtune.train.stages).
        """
        from knowtune.config import validate
        from knowtune.errors import UserError

        override = self.stages[index - 1]
        if not isinstance(override, dict):
            raise ValueError(f"stage {index} must be a mapping of config keys, got {override!r}")
        fixed = sorted(RUN_LEVEL_KEYS & set(override))
        if fixed:
            raise ValueError(f"stage {index}: {', '.join(fixed)} cannot be set per stage (they apply to the whole run)")
        merged = deep_merge(self.model_dump(exclude={"stages", "start_stage"}), override)
        try:
            return validate(TrainConfig, merged, source=f"stage {index}")
        except UserError as e:
            raise ValueError(str(e)) from None


# Keys a stage cannot override: they say where the run lives, what it starts from, or how it is launched.
RUN_LEVEL_KEYS = {
    "model", "trust_remote_code", "cache_dir", "experiment_name", "base_output_dir", "resume", "overwrite",
    "distributed", "deepspeed_config", "gpu_ids", "gpu_type", "ddp_timeout", "stages", "start_stage",
}

