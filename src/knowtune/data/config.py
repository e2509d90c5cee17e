"""The `data` section of a run config: where the records come from and how they become samples."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from knowtune.config import one_path_is_a_list

Format = Literal["auto", "chat", "alpaca", "qa", "text", "extraction"]


class DataConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    train: list[str] = Field(
        min_length=1,
        description=(
            "Training data: .json/.jsonl/.parquet files, a folder of .txt files (one text record per file, "
            "searched recursively), a folder written by datasets.save_to_disk, or a Hub dataset name "
            "(tried only when no such local path exists). One path or a list."
        ),
    )
    eval: list[str] = Field(
        default_factory=list,
        description="Separate evaluation data, in the same kinds as `train`; replaces validation_split_percentage.",
    )
    format: Format = Field(
        default="auto",
        description=(
            "Record shape: chat (messages), alpaca (instruction/input/output), qa (question/answer/context), "
            "text (continued pretraining), extraction (text + entities); auto detects it from the first record."
        ),
    )
    text_column: str = Field(default="text", description="Field holding the plain text of `text` records.")
    max_seq_length: int = Field(
        default=1024, gt=0, description="Tokens per sample: chats are cut at the end, texts split into blocks."
    )
    dataset_size: int | None = Field(
        default=None,
        gt=0,
        description="Use at most this many training records, drawn by a seeded shuffle (None = all).",
    )
    validation_split_percentage: float = Field(
        default=0,
        ge=0,
        le=50,
        description="Percent of training records held out as eval data (seeded) when no `eval` data is given.",
    )
    train_on: Literal["assistant", "all"] = Field(
        default="assistant",
        description="Compute the loss on the assistant turns only (assistant) or on the whole conversation (all).",
    )
    system_prompt: str | None = Field(
        default=None,
        description=(
            "System message put before alpaca/qa/extraction records (None = none; the model's chat template "
            "may still add its own default)."
        ),
    )
    chat_template: str | None = Field(
        default=None,
        description="Jinja chat template, or the name `chatml`, used only when the tokenizer has no template.",
    )

    num_proc: int | None = Field(
        default=None,
        gt=0,
        description=(
            "Processes that tokenize (None = one per 5,000 records, up to the CPU cores). Tokenized samples are "
            "cached under $KNOWTUNE_DATA_CACHE (default: the knowtune cache's datasets/ folder) and reused "
            "while the data files, tokenizer, chat template and these data settings stay the same."
        ),
    )
    streaming: bool = Field(
        default=False,
        description=(
            "Read a text corpus as training goes instead of tokenizing it first, packing its tokens into "
            "max_seq_length blocks (documents separated by EOS): memory stays flat whatever its size. Text data "
            "only; needs training.max_steps; no shuffle, dataset_size or validation split. A resumed run "
            "re-reads the stream from the start and skips the batches already trained."
        ),
    )

    _one_path_is_a_list = field_validator("train", "eval", mode="before")(one_path_is_a_list)

    @model_validator(mode="after")
    def _streamable(self):
        if self.streaming and self.format not in ("auto", "text"):
            raise ValueError(f"data.streaming packs text for continued pretraining; format={self.format} records "
                             "are tokenized whole (set streaming=false)")
        if self.streaming and (self.dataset_size is not None or self.validation_split_percentage):
            raise ValueError("data.streaming reads the corpus once, in order: use training.max_steps instead of "
                             "dataset_size, and data.eval instead of validation_split_percentage")
        return self
