"""The config of `knowtune generate`: documents to curated train/held-out QA pairs.

The top-level names of seed 002's flags (data_path, file_type, model_name_or_path, model_type,
chunk_size_by_token, qa_amount_per_fact, role_amount_per_fact, save_dir) are kept as keys.
"""

from __future__ import annotations

import string
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from knowtune.config import Strict, one_path_is_a_list
from knowtune.data.ingest import FILE_TYPES
from knowtune.models import DEFAULT_MODEL
from knowtune.synth import prompts

FileType = Literal["txt", "md", "docx", "pdf", "jsonl"]


def placeholder_names(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


class PromptSettings(Strict):
    kind: ClassVar[str]  # a key of prompts.PLACEHOLDERS

    @field_validator("template", check_fields=False)
    @classmethod
    def _placeholders(cls, template: str) -> str:
        required, optional = prompts.PLACEHOLDERS[cls.kind]
        try:
            used = placeholder_names(template)
        except ValueError as e:
            raise ValueError(f"{e} (write literal braces as {{{{ and }}}})") from None
        if unknown := used - required - optional:
            available = ", ".join("{" + p + "}" for p in sorted(required | optional))
            raise ValueError(f"unknown placeholder {{{sorted(unknown)[0]}}}; available: {available}")
        if missing := required - used:
            raise ValueError(f"must contain {{{sorted(missing)[0]}}}")
        return template


class SummaryPrompt(PromptSettings):
    kind = "summary"
    template: str = Field(
        prompts.SUMMARY,
        description="Topic summary of a chunk, made only when another prompt uses {summary}. Placeholders: {text}.",
    )
    max_new_tokens: int = Field(48, gt=0, description="Longest summary, in tokens.")


class FactsPrompt(PromptSettings):
    kind = "facts"
    template: str = Field(
        prompts.FACTS,
        description="Standalone facts of a chunk, one per line. Placeholders: {text}, {summary} (seed 002 uses it; "
        "the shipped prompt does not, see knowtune/synth/prompts.py).",
    )
    max_new_tokens: int = Field(256, gt=0, description="Longest fact list of one chunk, in tokens.")


class QuestionsPrompt(PromptSettings):
    kind = "questions"
    template: str = Field(
        prompts.QUESTIONS,
        description="Questions about one fact, asked as one persona, one per line. Placeholders: {fact}, {persona}, "
        "{n} (= qa_amount_per_fact), {summary}.",
    )
    max_new_tokens: int = Field(
        24, gt=0, description="Tokens allowed per question asked; a reply may be qa_amount_per_fact times as long."
    )


class AnswerPrompt(PromptSettings):
    kind = "answer"
    template: str = Field(
        prompts.ANSWER,
        description="The answer to one question, from its fact. Placeholders: {fact}, {question}, {summary}.",
    )
    max_new_tokens: int = Field(24, gt=0, description="Longest answer, in tokens.")


class JudgePrompt(PromptSettings):
    kind = "judge"
    template: str = Field(
        prompts.JUDGE, description="Score 1-5 of one pair (curation.judge). Placeholders: {fact}, {question}, {answer}."
    )
    max_new_tokens: int = Field(4, gt=0, description="Longest score reply, in tokens.")


class Prompts(Strict):
    summary: SummaryPrompt = Field(default_factory=SummaryPrompt, description="Chunk summary prompt.")
    facts: FactsPrompt = Field(default_factory=FactsPrompt, description="Fact extraction prompt.")
    questions: QuestionsPrompt = Field(default_factory=QuestionsPrompt, description="Question writing prompt.")
    answer: AnswerPrompt = Field(default_factory=AnswerPrompt, description="Answer writing prompt.")
    judge: JudgePrompt = Field(default_factory=JudgePrompt, description="LLM-judge prompt.")

    def use_summary(self) -> bool:
        """Whether some prompt uses the chunk summary, so that summaries must be made."""
        return any(placeholder_names(p.template) & {"summary"} for p in (self.facts, self.questions, self.answer))
    reask: str = Field(
        prompts.REASK, description="Follow-up message sent after a reply that could not be parsed, before retrying."
    )


class BackendSettings(Strict):
    batch_size: int = Field(
        32, gt=0, description="hf: prompts generated together in one batch (halved automatically when out of memory)."
    )
    temperature: float = Field(0.0, ge=0, description="Sampling temperature; 0 = greedy, which makes runs repeatable.")
    base_url: str | None = Field(
        None,
        description="openai: the server, e.g. http://localhost:8000/v1 for vLLM or http://localhost:11434/v1 for "
        "Ollama; None = $OPENAI_BASE_URL or the OpenAI API.",
    )
    api_key_env: str = Field(
        "OPENAI_API_KEY",
        description="openai: environment variable holding the API key (the key is never logged or saved); may be "
        "unset for a local server.",
    )
    concurrency: int = Field(8, gt=0, description="openai: requests in flight at once.")
    timeout_s: float = Field(120, gt=0, description="openai: seconds to wait for one reply before retrying it.")
    max_retries: int = Field(
        4, ge=0, description="openai: retries of a request that timed out or got 408/409/429/5xx (exponential backoff)."
    )


class CurationSettings(Strict):
    min_fact_support: float = Field(
        0.6, ge=0, le=1, description="Share of a fact's content words that must occur in its chunk, else it is dropped."
    )
    min_question_support: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Share of a question's content words that must occur in its fact, else it is dropped.",
    )
    min_answer_support: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Share of the content words an answer adds to its question that must occur in its fact, else "
        "it is dropped.",
    )
    max_question_similarity: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Two questions about one fact whose content-word sets have this Jaccard similarity or more are "
        "near-duplicates: the later one is dropped. Facts of one document are deduplicated the same way.",
    )
    judge: bool = Field(False, description="Also ask the model to score every surviving pair from 1 to 5.")
    judge_min_score: int = Field(4, ge=1, le=5, description="With judge: pairs scored below this are dropped.")


class GenerateConfig(Strict):
    data_path: list[str] = Field(min_length=1, description="Files or folders (searched recursively) to read.")
    file_type: list[FileType] = Field(
        default_factory=lambda: list(FILE_TYPES),
        description="Kinds of file to read: txt, md, docx, pdf, jsonl (a comma-separated list or one kind).",
    )
    text_field: str = Field("text", description="jsonl: the field of each record that holds its text.")
    chunk_size_by_token: int = Field(
        128,
        gt=0,
        description="Most tokens in a chunk (whole sentences). The shipped 135M model lists the facts of a few "
        "sentences well, not of a page; a larger model takes 512 or more.",
    )
    chunk_overlap_by_token: int = Field(
        0, ge=0, description="Tokens of whole sentences that a chunk repeats from the end of the previous one."
    )
    tokenizer: str | None = Field(
        None,
        description="Tokenizer that counts chunk tokens; None = the model's own (hf, vllm) or the shipped default "
        "model's (openai, whose model is remote).",
    )
    model_type: Literal["hf", "vllm", "openai"] = Field(
        "hf",
        description="hf: transformers, batched, in-process; vllm: vLLM in-process (knowtune[vllm]); openai: any "
        "OpenAI-compatible server (seed 002's 'api' means the same).",
    )
    model_name_or_path: str = Field(
        DEFAULT_MODEL, description="hf/vllm: a shipped alias, local directory or Hub id; openai: the served model name."
    )
    backend: BackendSettings = Field(default_factory=BackendSettings, description="Generation settings.")
    max_attempts: int = Field(
        3,
        gt=0,
        description="Tries per model call: a reply with nothing usable in it is asked again with prompts.reask, a "
        "failed request is sent again; after the last try the call is skipped and reported.",
    )
    personas: list[str] = Field(
        default_factory=lambda: list(prompts.PERSONAS),
        min_length=1,
        description="Who asks the questions; replace or extend the shipped list.",
    )
    fact_source: Literal["auto", "sentences", "model"] = Field(
        "auto",
        description="sentences: every informative sentence of a document is a fact, its subject carried in (no model; "
        "English and Chinese); model: the model lists each chunk's facts, checked against the chunk, and every sentence "
        "no kept fact covers is added as a sentence fact; auto: sentences for hf (a small local model), model for vllm "
        "and openai.",
    )
    question_source: Literal["auto", "templates", "model", "both"] = Field(
        "auto",
        description="templates: questions written from each fact's answer spans (names, years, counts, rare words) in "
        "several forms, answered with the fact itself (no model); model: personas' questions and the model's answers, "
        "checked against the fact; both; auto: templates for hf, both for vllm and openai.",
    )
    template_answers: Literal["fact", "span_then_fact"] = Field(
        "fact",
        description="What a templated question is answered with: the fact (the document's sentence), or the answer span "
        "first and then the fact ('1743. The Vellmoor tide bell was cast in 1743.').",
    )
    max_template_pairs_per_fact: int = Field(
        8, gt=0, description="Templated questions kept per fact (before the held-out ones are taken out)."
    )
    max_document_chars: int = Field(
        200_000,
        gt=0,
        description="A longer document is read up to the last sentence within this many characters; the coverage "
        "report says how much was left out.",
    )
    role_amount_per_fact: int = Field(2, gt=0, description="Personas that write questions about each fact.")
    qa_amount_per_fact: int = Field(2, gt=0, description="Q&A pairs each persona writes about each fact (at most).")
    prompts: Prompts = Field(default_factory=Prompts, description="The prompts.")
    curation: CurationSettings = Field(default_factory=CurationSettings, description="Which pairs are kept.")
    heldout_per_fact: int = Field(
        2,
        ge=0,
        description="Pairs per fact that go to heldout.jsonl, alternately marked split=dev (chooses the checkpoint) and "
        "split=test (only reported); a fact keeps at least min_train_pairs_per_fact pairs for training.",
    )
    min_train_pairs_per_fact: int = Field(
        4, ge=1, description="Pairs a fact keeps for training before any goes to heldout.jsonl."
    )
    seed: int = Field(0, description="Seed for choosing the held-out pairs.")
    save_dir: str = Field(
        "datasets/generated",
        description="Output folder: train.jsonl, heldout.jsonl, facts.jsonl, rejected.jsonl, coverage.json/.md, "
        "and the cache of model calls that makes a rerun resume.",
    )

    _one_path_is_a_list = field_validator("data_path", mode="before")(one_path_is_a_list)

    @field_validator("file_type", mode="before")
    @classmethod
    def _comma_list(cls, value):
        if isinstance(value, str):
            return [v.strip().lstrip(".").lower() for v in value.split(",") if v.strip()]
        return value

    @field_validator("model_type", mode="before")
    @classmethod
    def _api_is_openai(cls, value):
        return "openai" if value == "api" else value

    @field_validator("save_dir")
    @classmethod
    def _a_folder(cls, value: str):
        if value.endswith((".jsonl", ".json")):
            raise ValueError(
                "is a folder that receives train.jsonl, heldout.jsonl and the coverage report, not a file name"
            )
        return value

    def facts_from_model(self) -> bool:
        return self.fact_source == "model" or (self.fact_source == "auto" and self.model_type != "hf")

    def questions_from(self) -> set[str]:
        """'templates', 'model' or both."""
        if self.question_source == "auto":
            return {"templates"} if self.model_type == "hf" else {"templates", "model"}
        return {"templates", "model"} if self.question_source == "both" else {self.question_source}

    @model_validator(mode="after")
    def _consistent(self):
        if self.chunk_overlap_by_token >= self.chunk_size_by_token:
            raise ValueError("chunk_overlap_by_token must be smaller than chunk_size_by_token")
        if self.role_amount_per_fact > len(self.personas):
            raise ValueError(
                f"role_amount_per_fact={self.role_amount_per_fact} but only {len(self.personas)} personas are listed"
            )
        return self
