"""One training run, read top to bottom: setup, train, save. Built on TRL's SFTTrainer and PEFT; no hand-written loop."""

from __future__ import annotations

import io
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from transformers import EarlyStoppingCallback, ProgressCallback, set_seed
from transformers.integrations import TensorBoardCallback

from knowtune.fileio import write_atomic, write_json, write_jsonl
from knowtune.models import load_model, load_tokenizer, load_trained, model_config, resolve_model, save_merged
from knowtune.models import rope
from knowtune.train import replay, rundir
from knowtune.train.arguments import settle_batching, trainer_args
from knowtune.train.checkpoints import CommitMarker, StopOnSigterm, exit_preempted
from knowtune.train.config import TrainConfig
from knowtune.train.distributed import check_engine, datasets_once, loading_alone, on_main
from knowtune.train.methods import build_model
from knowtune.train.projection import BudgetProjection
from knowtune.train.trainer import SUITE, selection_summary
from knowtune.upstream import check as check_upstream

log = logging.getLogger("knowtune")


class ProgressWithLoss(ProgressCallback):
    """tqdm bar (steps, ETA) showing the latest loss; the full log dicts go to training.log."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        if self.training_bar is not None and "loss" in logs:
            self.training_bar.set_postfix(loss=f"{logs['loss']:.4f}", refresh=False)
        log.info("step %d: %s", state.global_step, json.dumps(logs))
        if any(k.startswith("eval_") for k in logs) and self.training_bar is not None:
            self.training_bar.write(f"step {state.global_step}: " + ", ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in logs.items()))


def _total_steps(trainer, args) -> int:
    if args.max_steps > 0:
        return args.max_steps
    per_epoch = max(math.ceil(len(trainer.get_train_dataloader()) / args.gradient_accumulation_steps), 1)
    return math.ceil(args.num_train_epochs * per_epoch)


def _heldout_accuracy(model, tokenizer, records, label: str) -> dict:
    from knowtune.evaluate.qa_check import evaluate_qa

    result = evaluate_qa(model, tokenizer, records)
    right = sum(p["correct"] for p in result["predictions"])
    print(f"Held-out accuracy {label} training: {right}/{result['n']} ({100 * result['accuracy']:.0f}%)", flush=True)
    log.info("held-out accuracy %s training: %s", label, json.dumps({k: v for k, v in result.items() if k != "predictions"}))
    return result


@dataclass
class TrainResult:
    run_dir: Path
    metrics: dict  # also in training_metrics.json
    model: object  # the trained model (a PeftModel for LoRA/QLoRA), for callers that go on to evaluate
    tokenizer: object


def _prepare(cfg: TrainConfig, model_path: str, command: list[str] | None) -> tuple[Path, Path | None, str]:
    """On rank 0 only: the run directory, the checkpoint to resume from, and the model to start from."""
    run_dir, resume_from = rundir.prepare(cfg)
    if (Path(model_path) / "adapter_config.json").is_file():
        # An adapter is not a model to train: merge it into its base once, inside this run.
        model_path = str(save_merged(model_path, run_dir / "merged_base", cfg.trust_remote_code))
    rundir.record(run_dir, cfg, model_path, command)
    return run_dir, resume_from, model_path


def run_one(cfg: TrainConfig, command: list[str] | None = None) -> TrainResult:
    """One training run (no stages). In every process of a distributed run; only rank 0 writes files."""
    from knowtune.train.trainer import GenerationEvalTrainer, load_generation_evals

    # Setup: everything that can reject the input runs before the run directory is touched.
    check_upstream()  # the TRL and transformers internals knowtune.train.trainer uses
    check_engine(cfg)
    model_path = resolve_model(cfg.model, cfg.cache_dir)
    if not (Path(model_path) / "adapter_config.json").is_file():
        model_config(model_path, cfg.trust_remote_code, cfg.rope_theta, cfg.no_rope_layers)  # RoPE settings fit
    tokenizer = load_tokenizer(model_path, cfg.trust_remote_code)
    has_eval = bool(cfg.data.eval) or cfg.data.validation_split_percentage > 0
    args = trainer_args(cfg, Path(cfg.base_output_dir) / cfg.experiment_name, has_eval)
    main, distributed = args.process_index == 0, args.world_size > 1
    train_ds, eval_ds, data_stats = datasets_once(cfg, tokenizer, args, model_path)
    generation_evals = load_generation_evals(cfg)
    heldout = None
    if cfg.heldout:
        from knowtune.evaluate.qa_check import load_qa_file

        heldout = load_qa_file(cfg.heldout)
    with loading_alone(args):
        run_dir, resume_from, model_path = on_main(args, lambda: _prepare(cfg, model_path, command))
    handler = rundir.attach_log_file(run_dir) if main else None
    say = _say if main else (lambda message: None)
    try:
        log.info("data: %s", json.dumps(data_stats))
        if data_stats.get("streaming"):
            say(f"Data: streamed as training goes, packed into blocks of {cfg.data.max_seq_length} tokens; "
                f"{data_stats['eval_samples']} eval samples")
        else:
            say(f"Data: {data_stats['train_samples']} training samples, {data_stats['eval_samples']} eval samples "
                f"({data_stats['dropped_no_trainable_tokens']} dropped: no trainable token left after "
                f"max_seq_length={cfg.data.max_seq_length})")
        set_seed(cfg.training.seed)  # adapters start from seeded random weights: a rerun is the same run
        model, summary = build_model(cfg, model_path)
        settle_batching(args, model, cfg.training.batching)
        say(summary)
        train_ds, replayed, teacher = replay.build(cfg, model, tokenizer, model_path, train_ds)
        if replayed:
            data_stats["replay_samples"] = len(replayed)
            if main:
                write_jsonl(run_dir / "replay.jsonl", replayed)
            say(f"Replay: {len(replayed)} answers of the base model mixed into {data_stats['train_samples']} "
                f"training samples (replay.ratio={cfg.replay.ratio}, loss {cfg.replay.loss})")
        before = None
        if heldout and not resume_from and not distributed and not cfg.selection.retention:
            before = _heldout_accuracy(model, tokenizer, heldout, "before")  # (selection measures it at step 0)

        tensorboard = TensorBoardCallback()
        tensorboard.logging_dir = str(run_dir / "tensorboard")
        preemption = StopOnSigterm()
        callbacks = [tensorboard, CommitMarker(), preemption, BudgetProjection(cfg.training.time_budget_hours)]
        if cfg.training.early_stopping_patience:
            callbacks.append(EarlyStoppingCallback(cfg.training.early_stopping_patience))
        if cfg.training.early_validation:
            from knowtune.train.early_validation import EarlyValidationCallback

            callbacks.append(EarlyValidationCallback(cfg.training.early_validation, run_dir))
        trainer = GenerationEvalTrainer(
            model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds,
            processing_class=tokenizer, callbacks=callbacks,
            generation_evals=generation_evals, eval_max_new_tokens=cfg.training.eval_max_new_tokens,
            selection_tolerance=cfg.selection.tolerance if cfg.selection.retention else None,
            selection_share=cfg.selection.base_share if cfg.selection.retention else None,
            replay_teacher=teacher,
        )
        trainer.remove_callback(ProgressCallback)
        trainer.add_callback(ProgressWithLoss())
        total = _total_steps(trainer, args)
        if resume_from:
            done = json.loads((resume_from / "trainer_state.json").read_text())["global_step"]
            message = f"Resuming from {resume_from} (step {done} of {total}; {max(total - done, 0)} steps remain)"
        else:
            message = f"Training {total} steps -> {run_dir}"
            if cfg.resume == "auto":
                message = f"resume=auto: no checkpoint in {run_dir / 'checkpoints'} yet. " + message
        if distributed:
            message += f" ({args.world_size} processes, {cfg.distributed})"
        say(message)

        # Work.
        if cfg.selection.retention:
            trainer.baseline = _selection_baseline(trainer, run_dir, resume_from, say, cfg.selection.base_answers)
        with preemption.installed():
            result = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
        if preemption.requested and trainer.state.global_step < trainer.state.max_steps:
            exit_preempted(trainer.state, total, run_dir / "checkpoints")

        # Save. Every process takes part (FSDP and ZeRO-3 gather their shards here); rank 0 writes.
        final = run_dir / "final_model"
        trainer.save_model(str(final))
        history = trainer.state.log_history
        metrics = {
            "method": cfg.method,
            "trainable": summary,
            "global_step": trainer.state.global_step,
            "world_size": args.world_size,
            "train": result.metrics,
            # With selection the chosen checkpoint's evaluation is in the log already (metrics["selection"]).
            "eval": trainer.evaluate() if eval_ds is not None and not cfg.selection.retention else None,
            "best_checkpoint": trainer.state.best_model_checkpoint,
            "selection": selection_summary(history, cfg.selection.tolerance, trainer.baseline)
            if cfg.selection.retention else None,
            "data": data_stats,
            "log_history": history,
        }
        if main:
            tokenizer.save_pretrained(str(final))
            if cfg.method in ("lora", "qlora") and (cfg.rope_theta is not None or cfg.no_rope_layers is not None):
                rope.write_sidecar(final, cfg.rope_theta, cfg.no_rope_layers)  # the base's config is not saved
            losses = np.array([h["loss"] for h in history if "loss" in h], dtype=np.float32)
            buffer = io.BytesIO()
            np.save(buffer, losses)
            write_atomic(run_dir / "losses.npy", buffer.getvalue())
            if heldout and distributed:  # the trained weights are sharded or wrapped: read them back whole
                with loading_alone(args):
                    before, after = _heldout_from_disk(cfg, model_path, final, tokenizer, heldout, resume_from, args.device)
                metrics["heldout"] = {"before": before, "after": after}
            elif heldout and (metrics["selection"] or {}).get("curve"):
                metrics["heldout"] = _heldout_from_selection(metrics["selection"])
            elif heldout:
                metrics["heldout"] = {"before": before, "after": _heldout_accuracy(trainer.model, tokenizer, heldout, "after")}
            write_json(run_dir / "training_metrics.json", metrics)
            say(f"Done: final model in {final}")
        return TrainResult(run_dir, metrics, trainer.model, tokenizer)
    finally:
        if handler is not None:
            rundir.detach_log_file(handler)


def _say(message: str) -> None:
    print(message, flush=True)
    log.info(message)


def _selection_baseline(trainer, run_dir: Path, resume_from: Path | None, say, base_answers: str | None = None) -> dict:
    """The base model's held-out accuracy and retention: measured before training, kept for a resume."""
    path = run_dir / "selection_baseline.json"
    if resume_from and path.is_file():
        kept = json.loads(path.read_text(encoding="utf-8"))
        if trainer.selection_share is None or SUITE in kept:  # a run begun before selection estimated the suite: again
            return kept
    say("Evaluating the base model first (held-out questions and retention): the baseline for selection")
    trainer.known_scores = _base_answers(trainer, base_answers)
    try:
        baseline = trainer.evaluate()
    finally:
        trainer.known_scores = {}
    if trainer.args.process_index == 0:
        write_json(path, baseline)
    return baseline


def _base_answers(trainer, path: str | None) -> dict[str, dict]:
    """The scores of the retention sets selection asks, from the base model's answers to the whole suite
    (`selection.base_answers`), per set's name: the baseline evaluation asks only the others (the held-out
    questions). A set the file does not hold every question of is asked."""
    if path is None:
        return {}
    from knowtune.evaluate.scoring import metrics_from_answers
    from knowtune.train.trainer import MISSED, RETENTION

    suite = [d for d in trainer.generation_evals if d.name in (RETENTION, MISSED)]
    return {d.name: scores for d, scores in zip(suite, metrics_from_answers(suite, path)) if scores is not None}


def _heldout_from_selection(selection: dict) -> dict:
    """Held-out accuracy before (step 0) and after (the chosen checkpoint, now the final model), as evaluated."""
    curve = selection["curve"]
    before = curve[0] if curve[0]["step"] == 0 else None  # a resumed run may not have it
    after = selection["chosen"]
    for label, point in (("before", before), ("after", after)):
        if point is not None:
            _say(f"Held-out accuracy {label} training: {point['heldout']:.0%}; retention {point['retention']:.0%}")
    return {"before": {"accuracy": before["heldout"]} if before else None, "after": {"accuracy": after["heldout"]}}


def _heldout_from_disk(cfg, model_path, final, tokenizer, heldout, resumed, device) -> tuple[dict | None, dict]:
    before = None
    if not resumed:
        base = load_model(model_path, cfg.trust_remote_code, rope_theta=cfg.rope_theta, no_rope_layers=cfg.no_rope_layers)
        before = _heldout_accuracy(base.to(device), tokenizer, heldout, "before")
        del base
    trained, _ = load_trained(final, trust_remote_code=cfg.trust_remote_code)
    return before, _heldout_accuracy(trained.to(device), tokenizer, heldout, "after")
