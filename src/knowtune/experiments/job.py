"""`knowtune run CONFIG`, the main job: documents (or a dataset) -> generate -> train -> evaluate -> report.

One run directory holds it all: generated/ (knowtune generate's outputs and call cache), the
training run's files (config.yaml, checkpoints/, final_model/, ...), dev.jsonl (the questions that
choose the checkpoint), test.jsonl (the questions that only grade it), eval/ (knowtune eval of the tuned model against its base) and report.md.
Training uses the default knowledge-update recipe (docs/recipe.md) with the config's `train`
section on top. Rerunning the same command resumes: model calls come from the cache and
training continues from its last checkpoint.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from knowtune.config import Strict, deep_merge as _deep_merge, one_path_is_a_list, validate
from knowtune.errors import UserError
from knowtune.fileio import write_atomic, write_jsonl
from knowtune.train.config import TrainConfig

# The default knowledge-update recipe, chosen by measurement on the demo corpus (docs/recipe.md).
# LoRA on the MLPs only kept more general knowledge than on every linear layer at the same held-out
# accuracy. Replay of the base model's answers to fact-shaped questions, as distillation (KL to its
# distribution) and mixed into every batch, holds retention while lr 2e-3 lands the facts in 4 epochs;
# selection keeps the best epoch within the retention tolerance.
RECIPE: dict[str, Any] = {
    "method": "lora",
    "lora": {"r": 16, "alpha": 32, "dropout": 0.0, "target_modules": ["gate_proj", "up_proj", "down_proj"]},
    "data": {"max_seq_length": 256},
    "training": {
        "learning_rate": 2e-3,
        "lr_scheduler_type": "constant",
        "num_train_epochs": 4,
        "per_device_train_batch_size": 8,
        "per_device_eval_batch_size": 32,  # answers are generated in batches: wider is faster on a CPU too
        "save_total_limit": 1,
        "batching": "padded",  # every batch mixes replay with new facts, so each step's update is held back
    },
    "replay": {"ratio": 1.0, "kinds": ["fact"], "loss": "kl", "max_new_tokens": 64},
    "selection": {"retention": True, "tolerance": 1 / 12},
}


class Thresholds(Strict):
    heldout_accuracy: float = Field(
        0.9, ge=0, le=1, description="Accuracy on the test questions (never used for selection) the tuned model must reach."
    )
    retention_drop: float = Field(
        1 / 12, ge=0, le=1, description="How far retention (general-knowledge suite, share answered) may fall."
    )


class RunConfig(Strict):
    experiment_name: str = Field("run", description="Run directory name under base_output_dir.")
    base_output_dir: str = Field("runs", description="Parent directory of run directories.")
    overwrite: bool = Field(False, description="Replace an existing run directory instead of continuing it.")
    generate: dict[str, Any] | None = Field(
        None,
        description="knowtune generate's config (see `knowtune generate --help`; save_dir is <run>/generated); "
        "leave it out to train on train_data alone.",
    )
    data_path: list[str] | None = Field(None, description="Documents to generate from (= generate.data_path).")
    train_data: list[str] = Field(
        default_factory=list, description="Datasets trained on besides the generated train.jsonl (QA, chat, alpaca)."
    )
    heldout: list[str] = Field(
        default_factory=list,
        description="QA files of test questions ({question, answer}, or {question, answers: [every accepted answer]}): "
        "asked before and after training and graded, never used to choose the "
        "checkpoint (the generated held-out questions then all choose it). Without them the generated held-out "
        "questions are split per fact: dev chooses, test grades.",
    )
    train: dict[str, Any] = Field(
        default_factory=dict,
        description="knowtune train keys on top of the default recipe (see `knowtune train --help`), e.g. "
        "{training: {num_train_epochs: 4}, replay: {ratio: 1.0}}.",
    )
    thresholds: Thresholds = Field(default_factory=Thresholds)

    _one_path_is_a_list = field_validator("data_path", "train_data", "heldout", mode="before")(one_path_is_a_list)

    @model_validator(mode="before")
    @classmethod
    def _data_path_is_generates(cls, data):
        if isinstance(data, dict) and data.get("data_path") is not None:
            generate = data.get("generate") if isinstance(data.get("generate"), dict) else {}
            data = {**data, "generate": {**generate, "data_path": data["data_path"]}}
        return data

    @model_validator(mode="after")
    def _something_to_learn(self):
        if self.generate is None and not self.train_data:
            raise ValueError("nothing to train on: give generate (documents) or train_data")
        return self

    def run_dir(self) -> Path:
        return Path(self.base_output_dir) / self.experiment_name

    def generate_config(self):
        from knowtune.synth.config import GenerateConfig

        settings = {**self.generate, "save_dir": str(self.run_dir() / "generated")}
        if self.heldout and "heldout_per_fact" not in settings:
            # The user's questions grade; the generated held-out ones only choose the checkpoint: one a fact
            # is enough, and the fact's other real questions stay in training.
            settings["heldout_per_fact"] = 1
        return validate(GenerateConfig, settings, source="generate")

    def train_config(self, train_files: list[str], heldout: str | None, selection: dict | None = None) -> TrainConfig:
        fixed = {"experiment_name": self.experiment_name, "base_output_dir": self.base_output_dir, "resume": "auto"}
        merged = _deep_merge(_deep_merge(RECIPE, self.train), fixed)
        merged["data"] = {**merged.get("data", {}), "train": train_files}
        merged["heldout"] = heldout
        if selection:
            merged["selection"] = {**merged.get("selection", {}), **selection}
        if heldout is None:  # nothing to select on: plain training with replay
            merged["selection"] = {**merged.get("selection", {}), "retention": False}
        return validate(TrainConfig, merged, source="train")

    def tolerance_is_set(self) -> bool:
        return "tolerance" in (self.train.get("selection") or {})


def selection_tolerance(retention_drop: float, base_share: float) -> float:
    """Selection's retention tolerance in the verdict's terms.

    Selection asks part of the suite, questions the base model answers (the suite's first 36, every one of which the
    shipped model answers), and keeps checkpoints that lose at most `tolerance` of them. The verdict allows the tuned
    model to answer `retention_drop` less of the whole suite, of which the base model answers `base_share`: the same
    fall is `retention_drop / base_share` of the questions it answers (two thirds of them lost would leave 8.3% of
    the suite to fall, were the base model to answer an eighth of it). With the recipe's 1/12 as selection's tolerance
    too, a checkpoint could lose 3 of the 36 while the verdict allowed 32 of the suite's 387 (the shipped model
    answers 202): selection kept early epochs that had learnt less, on a limit twice the verdict's.
    """
    return min(1.0, retention_drop / base_share) if base_share > 0 else retention_drop


def _base_suite(cfg: RunConfig, train_cfg: TrainConfig, run_dir: Path) -> tuple[float, Path | None]:
    """The share of the retention suite the base model answers, asked as the final evaluation asks it (its answers
    are kept in the answer cache, so the evaluation after training reads them back instead of asking again), and
    `selection_missed.jsonl`: 36 of the suite questions it does not answer, evenly spread over the suite (None if it
    misses none), which selection asks beside 36 it answers so that its estimate counts gains as the verdict does."""
    from knowtune.evaluate.config import EvalConfig
    from knowtune.evaluate.eval_data import suite_path
    from knowtune.evaluate.run import run as evaluate
    from knowtune.train.trainer import RETENTION_SELECTION_QUESTIONS

    out = run_dir / "base_suite"
    results = evaluate(EvalConfig(model_path=train_cfg.model, use_default_datasets=True, cache_dir=cfg.train.get("cache_dir"),
                                  output_dir=str(out), trust_remote_code=train_cfg.trust_remote_code))
    share = results["results"]["model"]["general_knowledge"]["contains"]
    answers = [json.loads(line) for line in (out / "predictions" / "general_knowledge.jsonl").read_text().splitlines()]
    missed = sorted(a["index"] for a in answers if not a["contains"])
    if not missed or not 0 < share < 1:
        return share, None
    k = min(RETENTION_SELECTION_QUESTIONS, len(missed))
    suite = Path(suite_path("general_knowledge.jsonl")).read_text(encoding="utf-8").splitlines()
    path = run_dir / "selection_missed.jsonl"
    path.write_text("".join(suite[missed[i * len(missed) // k]] + "\n" for i in range(k)), encoding="utf-8")
    return share, path


def _asked_alike(train_cfg: TrainConfig) -> bool:
    """Whether selection asks the suite's questions as `_base_suite` asked them (the same prompts, the same answer
    length), so that the base model's answers there are its answers at selection's baseline."""
    from knowtune.evaluate.config import EvalConfig

    defaults = EvalConfig.model_fields
    return (train_cfg.data.system_prompt == defaults["system_prompt"].default
            and train_cfg.training.eval_max_new_tokens == defaults["max_new_tokens"].default)


def check(cfg: RunConfig) -> None:
    """Every section validated before anything runs, so a typo fails in a second, not after generation."""
    if cfg.generate is not None:
        cfg.generate_config()
    cfg.train_config(cfg.train_data or ["<generated train.jsonl>"], cfg.heldout[0] if cfg.heldout else None)
    for path in cfg.train_data + cfg.heldout:
        if not Path(path).exists():
            raise UserError(f"{path}: no such file (listed in train_data/heldout)")
    from knowtune.evaluate.qa_check import load_qa_file

    for path in cfg.heldout:
        load_qa_file(path)  # a bad record stops the run here, before generation, naming its file and line


def _prepare(cfg: RunConfig) -> Path:
    run_dir = cfg.run_dir()
    if cfg.overwrite and run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def _question_sets(run_dir: Path, generated: Path | None, files: list[str]) -> tuple[str | None, str | None]:
    """(dev, test): questions that choose the checkpoint, and questions that only grade it.

    The user's held-out files are the test; the generated held-out questions are then all dev. With
    no user questions the generated ones are split per fact: split=dev chooses, split=test grades,
    so the reported accuracy is not the best of several tries on the questions it is reported on.
    """
    from knowtune.evaluate.qa_check import load_qa_file

    generated_records = load_qa_file(generated) if generated is not None and generated.stat().st_size else []
    dev, test = [], []
    for r in generated_records:
        part = "dev" if files else r.get("split", "dev")
        (dev if part == "dev" else test).append({"question": r["question"], "answer": r["answer"],
                                                 "source": f"{generated} ({part})"})
    for source in files:
        test += [{"question": r["question"], "answers": r["answers"], "source": source} for r in load_qa_file(source)]
    paths = []
    for name, records in (("dev", dev), ("test", test)):
        if records:
            write_jsonl(run_dir / f"{name}.jsonl", records)
        paths.append(str(run_dir / f"{name}.jsonl") if records else None)
    return paths[0], paths[1]


def run(cfg: RunConfig, command: list[str] | None = None) -> dict:
    from knowtune.config import to_yaml
    from knowtune.evaluate.config import EvalConfig
    from knowtune.evaluate.run import run as evaluate
    from knowtune.experiments.job_report import render, verdict
    from knowtune.train.run import run as train

    check(cfg)
    run_dir = _prepare(cfg)
    write_atomic(run_dir / "run_config.yaml", to_yaml(cfg))
    seconds: dict[str, float] = {}

    started = time.monotonic()
    coverage, generated_train, generated_heldout = None, [], None
    if cfg.generate is not None:
        from knowtune.synth.run import run as generate

        print("== 1/3 generate: documents -> facts -> Q&A", flush=True)
        result = generate(cfg.generate_config())
        coverage = result.coverage
        t = coverage["totals"]
        print(f"{t['facts_covered']} of {t['facts_kept']} facts covered; {t['train']} training and "
              f"{t['heldout']} held-out pairs (report: {result.save_dir / 'coverage.md'})", flush=True)
        if t["train"]:
            generated_train = [str(result.save_dir / "train.jsonl")]
        elif not cfg.train_data:
            raise UserError(f"no Q&A pair survived curation and there is no train_data; see {result.save_dir / 'coverage.md'}")
        generated_heldout = result.save_dir / "heldout.jsonl"
    seconds["generate"] = time.monotonic() - started

    started = time.monotonic()
    dev, test = _question_sets(run_dir, generated_heldout, cfg.heldout)
    print("== 2/3 train: the default recipe (docs/recipe.md) with this config's changes", flush=True)
    train_cfg, tolerance_basis = cfg.train_config(generated_train + cfg.train_data, dev), None
    if train_cfg.selection.retention and not cfg.tolerance_is_set():
        share, missed = _base_suite(cfg, train_cfg, run_dir)
        drop = cfg.thresholds.retention_drop
        if missed:
            selection = {"tolerance": drop, "missed": str(missed), "base_share": share}
            if _asked_alike(train_cfg):
                selection["base_answers"] = str(run_dir / "base_suite" / "predictions" / "general_knowledge.jsonl")
            asked = len(missed.read_text(encoding="utf-8").splitlines())
            print(f"Selection: a checkpoint's share of the retention suite, estimated from 36 questions the base model "
                  f"answers and {asked} it does not ({share:.0%} of the suite answered), may fall {drop:.1%}, as the "
                  "verdict allows", flush=True)
        else:  # the base model answers all of the suite or none of it
            selection = {"tolerance": selection_tolerance(drop, share)}
            print(f"Selection: a checkpoint may answer {selection['tolerance']:.1%} fewer of the retention questions "
                  f"the base model answers (the verdict allows {drop:.1%} of the whole suite; the base model answers "
                  f"{share:.0%} of it)", flush=True)
        tolerance_basis = {"base_share": share, "retention_drop": drop, "tolerance": selection["tolerance"],
                           "estimated": bool(missed)}
        train_cfg = cfg.train_config(generated_train + cfg.train_data, dev, selection)
    trained = train(train_cfg, command=command)
    seconds["train"] = time.monotonic() - started

    started = time.monotonic()
    print("== 3/3 evaluate: the tuned model against its base", flush=True)
    del trained.model  # the evaluation loads the final model from disk, as a user would
    baseline = (trained.metrics.get("selection") or {}).get("curve", [None])[0]
    # The base model is evaluated here too: the test questions were never asked during training, and the
    # verdict pairs base and tuned per question on the whole retention suite (selection asked part of it).
    # The test questions are also asked with retrieval over the chunks generation used.
    chunks, retrieval = run_dir / "generated" / "chunks.jsonl", {}
    if cfg.generate is not None and (test or dev):
        generated = cfg.generate_config()
        retrieval = {"retrieval": [str(chunks)] if chunks.is_file() else generated.data_path,
                     "retrieval_chunk_tokens": generated.chunk_size_by_token}
    # Dev accuracy per epoch is in the selection curve; only without test questions is dev graded here.
    eval_cfg = EvalConfig(model_path=str(run_dir), datasets=[f"{test or dev}:qa"] if test or dev else [],
                          use_default_datasets=True, compare_base=True, cache_dir=cfg.train.get("cache_dir"), **retrieval)
    results = evaluate(eval_cfg, command=command)
    seconds["evaluate"] = time.monotonic() - started

    summary = verdict(results, baseline, trained.metrics, cfg.thresholds)
    summary |= {"seconds": seconds, "coverage": coverage["totals"] if coverage else None,
                "data": trained.metrics["data"], "selection": trained.metrics.get("selection"),
                "selection_tolerance": tolerance_basis}
    write_atomic(run_dir / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    write_atomic(run_dir / "report.md", render(cfg, summary, run_dir))
    for line in summary["lines"]:
        print(line)
    print(f"Report: {run_dir / 'report.md'}")
    return summary
