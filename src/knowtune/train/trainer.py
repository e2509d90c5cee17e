"""The trainer: TRL's SFTTrainer with knowtune's loss (knowtune.train.loss), the replay teacher, and
checkpoint selection on held-out accuracy within a retention tolerance.

Task metrics during training: at every evaluation the model answers the `training.eval_datasets`
(greedy, left padded) and their exact match / F1 (QA) or precision / recall / F1 (extraction) join
eval_loss in the same metrics dict, so TensorBoard, training_metrics.json and early stopping
(`metric_for_best_model: eval_<name>_f1`) all see them.
"""

from __future__ import annotations

import torch
from trl import SFTTrainer

from knowtune.errors import UserError
from knowtune.train.config import TrainConfig
from knowtune.train.loss import REPLAY_INDEX
from knowtune.upstream import SFTTrainerInternals, trl_fused_head_runs_on


HELDOUT, RETENTION, MISSED = "heldout", "retention", "retention_missed"  # generation evals that selection adds
SUITE = f"eval_{RETENTION}_suite"  # with selection.missed: the estimated share of the whole suite answered
# Selection asks the suite's first 36 questions at every evaluation (the suite before issue 17, so a
# run's time stays what it was); the whole suite (knowtune eval) gives the final verdict.
RETENTION_SELECTION_QUESTIONS = 36
SELECTION = "eval_selection"


def selection_score(heldout: float, retention: float, base_retention: float, tolerance: float) -> float:
    """What checkpoint selection maximises: held-out accuracy while retention stays within `tolerance` of
    the base model's, equal held-out accuracy going to the one that kept more (a tie-break too small to
    outweigh one held-out question of up to 1000); below the tolerance, every checkpoint ranks under
    every one that kept it, by its retention, equal retention going to the one with more held-out accuracy."""
    if retention >= base_retention - tolerance - 1e-9:
        return heldout + retention * 1e-4
    return retention - 2.0 + heldout * 1e-4


def suite_estimate(metrics: dict, base_share: float) -> float:
    """The share of the whole retention suite answered, from the two parts selection asks: questions the base
    model answers (a `base_share` of the suite) and questions it does not, each answered share weighted by its part."""
    return base_share * metrics[f"eval_{RETENTION}_contains"] + (1 - base_share) * metrics[f"eval_{MISSED}_contains"]


def lora_merged_copy(model):
    """A copy of a LoRA model with its adapter merged in (the model itself untouched); any other model as it is."""
    if not hasattr(model, "merge_and_unload") or any(
            getattr(c, "peft_type", None) != "LORA" for c in getattr(model, "peft_config", {}).values()):
        return model
    import copy

    return copy.deepcopy(model).merge_and_unload()


def load_generation_evals(cfg: TrainConfig) -> list:
    """Read and check the datasets at setup, before anything is trained."""
    from knowtune.evaluate.eval_data import load_eval_dataset

    datasets = []
    for path in cfg.training.eval_datasets:
        dataset = load_eval_dataset(path, system_prompt=cfg.data.system_prompt, max_samples=cfg.training.eval_max_samples)
        if dataset.metric == "perplexity":
            raise UserError(f"training.eval_datasets: {path} is plain text; its loss is eval_loss (put it in data.eval)")
        if not dataset.items:
            raise UserError(f"training.eval_datasets: {path} has no usable record: {'; '.join(dataset.problems[:3])}")
        datasets.append(dataset)
    if cfg.selection.retention:
        from knowtune.evaluate.eval_data import suite_path

        selection = [load_eval_dataset(cfg.heldout, "qa", HELDOUT, system_prompt=cfg.data.system_prompt),
                     load_eval_dataset(suite_path("general_knowledge.jsonl"), "qa", RETENTION,
                                       system_prompt=cfg.data.system_prompt, max_samples=RETENTION_SELECTION_QUESTIONS)]
        if cfg.selection.missed:
            selection.append(load_eval_dataset(cfg.selection.missed, "qa", MISSED, system_prompt=cfg.data.system_prompt))
        for selection_set in selection:
            selection_set.ends_when_answered = True  # selection reads their `contains` only
        datasets += selection
    names = [d.name for d in datasets]
    if len(set(names)) != len(names):
        raise UserError(f"training.eval_datasets: two files share a name ({', '.join(names)}); rename one")
    return datasets


class GenerationEvalTrainer(SFTTrainerInternals, SFTTrainer):
    """SFTTrainer with knowtune's loss (knowtune.train.loss), replay teacher and checkpoint selection,
    whose evaluation also scores generated answers."""

    extra_columns = (REPLAY_INDEX,)  # a dataset column the collator looks the replay teacher up by

    def __init__(self, *args, generation_evals: list = (), eval_max_new_tokens: int = 64,
                 selection_tolerance: float | None = None, selection_share: float | None = None,
                 replay_teacher: list | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        from knowtune.train.loss import TeacherCollator, add_hidden_output, logit_transform

        base = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model
        add_hidden_output(base)  # over TRL's fused head: calls without knowtune_hidden still reach it
        self.logit_transform = logit_transform(base.config)
        if replay_teacher and self.aux_loss_enabled:
            raise UserError("replay.loss=kl: this model adds a router auxiliary loss (mixture of experts), which "
                            "knowtune's distillation loss does not compute; use replay.loss=ce")
        if replay_teacher:
            self.data_collator = TeacherCollator(self.data_collator, replay_teacher)
        self.generation_evals = list(generation_evals)
        self.eval_max_new_tokens = eval_max_new_tokens
        self.selection_tolerance = selection_tolerance  # None: no checkpoint selection on retention
        self.selection_share = selection_share  # the base model's share of the suite, with selection.missed
        self.baseline: dict | None = None  # the base model's evaluation, before training (train() resets the log)
        self.known_scores: dict[str, dict] = {}  # per generation eval's name: its scores, read instead of asked

    def _answering_model(self):
        """The model that answers the evaluation's questions: on a CPU, a LoRA model's merged copy (0.3 s for the default
        model), as the final evaluation loads it (knowtune.evaluate.target); the adapter's own matrix products would
        cost each decoding step as much again per row. The trained model is not touched."""
        if not self.generation_evals or self.model.device.type != "cpu":
            return self.model
        return lora_merged_copy(self.model)

    def _own_loss(self, inputs) -> bool:
        """knowtune's loss (knowtune.train.loss) while training, unless TRL's Triton head is faster here
        (a GPU, no replay distillation) or the model adds an auxiliary loss (MoE routers)."""
        if not self.model.training or self.aux_loss_enabled:
            return False
        return "teacher_on" in inputs or not trl_fused_head_runs_on(inputs["input_ids"].device)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        from knowtune.train.loss import TEACHER_KEYS, token_loss

        teacher = {key: inputs.pop(key) for key in TEACHER_KEYS if key in inputs}
        if return_outputs or not self._own_loss({**inputs, **teacher}):
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        out = model(**inputs, use_cache=False, knowtune_hidden=True)
        unwrapped = self.accelerator.unwrap_model(model)
        head = unwrapped.get_output_embeddings()
        scale, softcap = self.logit_transform
        loss_sum, correct = token_loss(out.hidden, head, out.targets, scale, softcap, teacher)
        positions = out.targets.numel()
        count = positions if num_items_in_batch is None else num_items_in_batch
        loss = loss_sum / torch.as_tensor(count, device=loss_sum.device).clamp(min=1)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * (self.accelerator.num_processes // self.tensor_parallel_size)
        # The metrics TRL logs on its own path (entropy is not computed here).
        valid = self.accelerator.gather_for_metrics(torch.as_tensor(positions, device=loss.device)).sum()
        right = self.accelerator.gather_for_metrics(torch.as_tensor(correct, device=loss.device)).sum()
        if "attention_mask" in inputs:
            tokens = inputs["attention_mask"].sum()
        else:
            tokens = torch.as_tensor(inputs["position_ids"].size(1), device=loss.device)
        self.log_token_metrics((right / valid).item() if valid > 0 else 0.0,
                               self.accelerator.gather_for_metrics(tokens).sum().item() // self.tensor_parallel_size)
        return loss

    def evaluation_loop(self, *args, metric_key_prefix: str = "eval", **kwargs):
        # Trainer.evaluate logs output.metrics and hands them to the callbacks (early stopping)
        # and to the best-checkpoint choice right after this returns: the one place to add them.
        output = super().evaluation_loop(*args, metric_key_prefix=metric_key_prefix, **kwargs)
        from knowtune.evaluate.scoring import generation_metrics_together
        from knowtune.models.generate import GENERATION_BATCH

        # Answers on a CPU: wide batches whose finished rows leave them (knowtune.models.generate), however
        # small per_device_eval_batch_size keeps the loss's batches; on a GPU that size is the user's memory.
        rows = self.args.per_device_eval_batch_size
        if self.model.device.type == "cpu":
            rows = max(rows, GENERATION_BATCH)
        # All sets in one decoding pass, fewer and fuller batches (docs/evaluation.md, Generation).
        asked = [d for d in self.generation_evals if d.name not in self.known_scores]
        every = generation_metrics_together(self._answering_model(), self.processing_class, asked, batch_size=rows,
                                            max_new_tokens=self.eval_max_new_tokens) if asked else []
        scores = dict(zip((d.name for d in asked), every)) | self.known_scores
        for name in (d.name for d in self.generation_evals):
            output.metrics.update({f"{metric_key_prefix}_{name}_{k}": v for k, v in scores[name].items()})
        if self.selection_tolerance is not None and metric_key_prefix == "eval":
            key = f"eval_{RETENTION}_contains"
            if self.selection_share is not None:
                output.metrics[SUITE] = suite_estimate(output.metrics, self.selection_share)
                key = SUITE
            retention = output.metrics[key]
            base = retention if self.baseline is None else self.baseline[key]
            output.metrics[SELECTION] = selection_score(
                output.metrics[f"eval_{HELDOUT}_contains"], retention, base,
                self.selection_tolerance,
            )
        return output


def selection_summary(log_history: list[dict], tolerance: float, baseline: dict) -> dict:
    """Held-out accuracy and retention per evaluation, the base model's first (step 0), and the one selected."""
    heldout, retention = f"eval_{HELDOUT}_contains", SUITE if SUITE in baseline else f"eval_{RETENTION}_contains"
    curve = [
        {"step": h.get("step", 0), "epoch": h.get("epoch", 0.0), "heldout": h[heldout], "retention": h[retention],
         "eval_loss": h.get("eval_loss"), "score": h.get(SELECTION)}
        for h in [{**baseline, "step": 0, "epoch": 0.0}, *log_history] if heldout in h and retention in h
    ]
    base = curve[0]["retention"]
    for point in curve:
        point["within_tolerance"] = point["retention"] >= base - tolerance - 1e-9
    trained = [p for p in curve if p["step"] > 0] or curve
    chosen = max(trained, key=lambda p: p["score"])  # the first of equals, as the Trainer keeps it
    return {"base_retention": base, "tolerance": tolerance, "chosen_step": chosen["step"], "chosen": chosen,
            "curve": curve}
