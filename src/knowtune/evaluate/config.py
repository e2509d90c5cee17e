"""The config of `knowtune eval`: every flag is a field here, documented once, validated at the boundary."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from knowtune.errors import UserError
from knowtune.models import DEFAULT_MODEL

METRICS = ("qa", "perplexity", "extraction")


class EvalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_path: str = Field(
        DEFAULT_MODEL,
        description="What to evaluate: a shipped alias, a model directory, a Hub id, a PEFT adapter directory "
        "(loaded on the base its adapter_config.json names) or a run directory (its final_model/; results "
        "then go to <run>/eval/).",
    )
    adapter: str | None = Field(
        None, description="A PEFT adapter directory, or a run directory holding one, to load on model_path."
    )
    base_model: str | None = Field(
        None,
        description="The base model for compare_base, and for an adapter whose adapter_config.json names a base "
        "that is not loadable here (default: the adapter's base, or the run's config.yaml model).",
    )
    datasets: list[str] = Field(
        default_factory=list,
        description="Eval data, each PATH or PATH:METRIC with METRIC one of qa, perplexity, extraction; without "
        "one it follows the fields: question/messages/instruction -> qa, text + entities -> extraction, "
        "text -> perplexity.",
    )
    use_default_datasets: bool = Field(
        False,
        description="Also evaluate the suite shipped with knowtune (general-knowledge questions and a reference "
        "text), which shows what a fine-tune made the model forget.",
    )
    compare_base: bool = Field(
        False, description="Evaluate the base model on the same data too and report the differences."
    )
    retrieval: list[str] = Field(
        default_factory=list,
        description="Documents (files or folders), or the chunks.jsonl that knowtune generate wrote: each QA "
        "dataset of `datasets` is also asked with its top retrieval_top_k chunks (BM25) before the question, by "
        "the base and the evaluated model, so the report shows fine-tuning against retrieval (needs compare_base).",
    )
    retrieval_top_k: int = Field(3, gt=0, description="Chunks put before each question with retrieval.")
    retrieval_chunk_tokens: int = Field(
        128, gt=0, description="Retrieval over documents: most tokens in a chunk (as knowtune generate's "
        "chunk_size_by_token; a chunks.jsonl is used as it is).",
    )
    lm_eval_tasks: list[str] = Field(
        default_factory=list,
        description="lm-evaluation-harness tasks (names such as arc_easy, or paths of task YAMLs) run on the "
        "model, and on the base with compare_base; max_samples_per_dataset limits each (knowtune[lm_eval]).",
    )
    predictions: list[str] = Field(
        default_factory=list,
        description="Score existing predictions files instead of a model (JSONL lines with `prediction` and "
        "`answers`/`answer`, or `entities` for extraction); PATH:METRIC as for datasets.",
    )
    output_dir: str | None = Field(
        None, description="Where results go (default: <run>/eval/ when a run directory is evaluated)."
    )
    max_samples_per_dataset: int | None = Field(
        None, gt=0, description="Evaluate at most the first N records of each dataset (None = all)."
    )
    batch_size: int | Literal["auto"] = Field(
        "auto",
        description="Prompts (or perplexity windows) per forward pass; auto = 128 prompts or 4 windows on a CPU, "
        "and on a GPU the largest size from 64 down that fits in memory (halved on out-of-memory; the size "
        "used is reported).",
    )
    max_length: int = Field(1024, gt=1, description="Perplexity window in tokens.")
    stride: int = Field(
        512, gt=0, description="Perplexity: tokens the window moves each step (each token is scored once, with "
        "at least max_length - stride tokens of context after the first window).",
    )
    max_new_tokens: int = Field(64, gt=0, description="Longest generated answer, in tokens.")
    suite_whole_answers: bool = Field(
        False, description="Let the retention suite's greedy answers run on to their end after they hold an accepted "
        "answer. By default they end there: its `contains`, what verdicts use, is the same either way; its exact "
        "match and F1 are then those of the shorter answer (docs/evaluation.md, Generation).",
    )
    temperature: float = Field(0.0, ge=0, description="Sampling temperature; 0 = greedy decoding.")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling (only when temperature > 0).")
    seed: int = Field(42, description="Seed for sampling.")
    system_prompt: str | None = Field(
        None, description="System message before each question (None = the chat template's default, if any)."
    )
    text_column: str = Field("text", description="Field holding the text of perplexity records.")
    trust_remote_code: bool = Field(False, description="Allow model code from the model directory/Hub to run.")
    cache_dir: str | None = Field(
        None, description="Where converted models and the base model's kept answers go (default $KNOWTUNE_CACHE or "
        "~/.cache/knowtune)."
    )
    fresh_answers: bool = Field(
        False, description="Ask a model without an adapter again instead of reading the answers it gave to the same "
        "files and settings before (kept under <cache_dir>/answers)."
    )

    @field_validator("batch_size", mode="before")
    @classmethod
    def _positive_or_auto(cls, value):
        if value == "auto":
            return value
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError("must be a positive integer or auto")
        return value

    @model_validator(mode="after")
    def _consistent(self):
        if self.stride >= self.max_length:
            raise ValueError(
                f"stride ({self.stride}) must be smaller than max_length ({self.max_length}), so that windows "
                "overlap and every scored token has context"
            )
        if self.predictions:
            clash = [name for name in ("datasets", "use_default_datasets", "compare_base", "adapter", "retrieval",
                                       "lm_eval_tasks") if getattr(self, name)]
            if clash:
                raise ValueError(f"predictions scores files without a model; drop {', '.join(clash)}")
        elif not (self.datasets or self.use_default_datasets or self.lm_eval_tasks):
            raise ValueError("nothing to evaluate: give datasets, use_default_datasets, lm_eval_tasks or predictions")
        if self.retrieval and not self.compare_base:
            raise ValueError("retrieval asks the base and the tuned model, each with and without retrieval: add "
                             "compare_base")
        if self.retrieval and not self.datasets:
            raise ValueError("retrieval needs QA datasets of questions about the documents (datasets)")
        for item in self.datasets + self.predictions:
            split_metric(item)  # rejects an empty path early
        return self


def split_metric(item: str) -> tuple[str, str]:
    """`data.jsonl:qa` -> ("data.jsonl", "qa"); `data.jsonl` -> ("data.jsonl", "auto").

    Only a known metric name after the last colon counts, so Windows drives and other colons in a
    path stay part of the path.
    """
    path, sep, metric = item.rpartition(":")
    if sep and metric in METRICS:
        if not path:
            raise UserError(f"'{item}': a dataset path is missing before ':{metric}'")
        return path, metric
    return item, "auto"
