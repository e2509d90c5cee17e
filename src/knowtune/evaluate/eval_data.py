"""Eval datasets: records read, checked and turned into prompts with their gold answers.

A record that cannot be scored (no answer field, an empty gold list, malformed entities, no text)
is left out with a message naming its file and line; the rest of the dataset is still evaluated
and the problems are counted in the report.
"""

from __future__ import annotations

import hashlib
import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path

from knowtune.data import DataConfig, Record, load_records, to_messages, validate_record
from knowtune.errors import UserError
from knowtune.evaluate.extraction_metrics import Entity, as_entities

# The suite shipped with the package, to see what a fine-tune made the model forget.
DEFAULT_SUITE = (("general_knowledge.jsonl", "qa"), ("reference_text.txt", "perplexity"))


@dataclass
class EvalItem:
    where: str
    gold: list[str] | list[Entity] | str  # gold answers (qa), gold entities (extraction), the text (perplexity)
    prompt: list[dict] | None = None  # the conversation the model continues (qa, extraction)
    shown: dict = field(default_factory=dict)  # fields written beside the prediction


@dataclass
class EvalDataset:
    name: str
    path: str
    metric: str
    items: list[EvalItem]
    records: int  # records read (after max_samples)
    problems: list[str]  # "file:line: why" of each record left out
    sha256: str | None  # of the file, or of a folder's files; None for a Hub dataset
    # qa scored by `contains` alone (the retention suite): a greedy answer ends once it holds an accepted answer
    # (knowtune.evaluate.scoring.answered_check), which `contains` does not tell from the whole answer.
    ends_when_answered: bool = False


def suite_path(filename: str) -> str:
    return str(importlib.resources.files("knowtune.evaluate") / "suites" / filename)


def infer_metric(record: Record, text_column: str = "text") -> str:
    data = record.data if isinstance(record.data, dict) else {}
    present = {key for key, value in data.items() if value is not None}
    if {"text", "entities"} <= present:
        return "extraction"
    if present & {"question", "messages", "instruction"}:
        return "qa"
    if text_column in present:
        return "perplexity"
    raise UserError(
        f"{record.where}: cannot tell the metric from the fields [{', '.join(data)}]; name it as "
        "PATH:qa, PATH:perplexity or PATH:extraction"
    )


def gold_answers(data: dict, where: str) -> list[str]:
    """The gold answers of a QA record: `answers` (a list, or SQuAD's {"text": [...]}) or `answer`."""
    name = "answers" if data.get("answers") is not None else "answer"
    golds = data.get(name)
    if golds is None:
        raise UserError(f"{where}: missing its answer field ('answer' or 'answers')")
    if isinstance(golds, dict) and "text" in golds:
        golds = golds["text"]
    single = isinstance(golds, str)
    if single:
        golds = [golds]
    if not isinstance(golds, list) or not all(isinstance(g, str) for g in golds):
        raise UserError(f"{where}: field '{name}' must be a string or a list of strings")
    golds = [g for g in golds if g.strip()]
    if not golds:
        raise UserError(f"{where}: field '{name}' is {'empty' if single else 'an empty gold answer list'}")
    return golds


def _qa_item(record: Record, cfg: DataConfig) -> EvalItem:
    data, where = record.data, record.where
    if "messages" in data:
        validate_record(record, "chat")
        messages = to_messages(data, "chat", cfg)
        if messages[-1]["role"] != "assistant":
            raise UserError(f"{where}: the last message must be the assistant's answer, the gold to score against")
        prompt = messages[:-1]
        if cfg.system_prompt is not None and prompt[0]["role"] != "system":
            prompt.insert(0, {"role": "system", "content": cfg.system_prompt})
        return EvalItem(where, [messages[-1]["content"]], prompt, {"prompt": prompt[-1]["content"]})
    if "instruction" in data:
        validate_record(record, "alpaca")
        messages = to_messages(data, "alpaca", cfg)
        return EvalItem(where, [data["output"]], messages[:-1], {"instruction": data["instruction"]})
    if not isinstance(data.get("question"), str):
        raise UserError(f"{where}: field 'question' must be a string")
    if data.get("context") is not None and not isinstance(data["context"], str):
        raise UserError(f"{where}: field 'context' must be a string")
    golds = gold_answers(data, where)
    messages = to_messages({"question": data["question"], "context": data.get("context"), "answer": golds[0]}, "qa", cfg)
    return EvalItem(where, golds, messages[:-1], {"question": data["question"]})


def _extraction_item(record: Record, cfg: DataConfig) -> EvalItem:
    validate_record(record, "extraction")
    messages = to_messages(record.data, "extraction", cfg)
    return EvalItem(record.where, as_entities(record.data["entities"]), messages[:-1], {"text": record.data["text"]})


def _text_item(record: Record, text_column: str) -> EvalItem:
    text = record.data.get(text_column)
    if not isinstance(text, str) or not text.strip():
        problem = "missing" if text is None else "empty" if isinstance(text, str) else f"not a string ({type(text).__name__})"
        raise UserError(f"{record.where}: text field '{text_column}' is {problem}")
    return EvalItem(record.where, text)


def load_eval_dataset(
    path: str,
    metric: str = "auto",
    name: str | None = None,
    text_column: str = "text",
    system_prompt: str | None = None,
    max_samples: int | None = None,
) -> EvalDataset:
    """Read and check one dataset; records that cannot be scored are listed in `problems`."""
    records = load_records([path], text_column=text_column)[:max_samples]
    if metric == "auto":
        metric = infer_metric(next((r for r in records if isinstance(r.data, dict)), records[0]), text_column)
    # Only system_prompt matters to to_messages; the training-side fields have no meaning here.
    cfg = DataConfig.model_construct(system_prompt=system_prompt)
    items, problems = [], []
    for record in records:
        try:
            if not isinstance(record.data, dict):
                raise UserError(f"{record.where}: a record must be a JSON object, got {type(record.data).__name__}")
            if metric == "qa":
                items.append(_qa_item(record, cfg))
            elif metric == "extraction":
                items.append(_extraction_item(record, cfg))
            else:
                items.append(_text_item(record, text_column))
        except UserError as e:
            problems.append(str(e))
    return EvalDataset(name or Path(path).stem, path, metric, items, len(records), problems, fingerprint(path))


def fingerprint(path: str) -> str | None:
    """sha256 of a file, or of a folder's files (relative names and contents, sorted)."""
    source = Path(path).expanduser()
    if not source.exists():
        return None
    digest = hashlib.sha256()
    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    for file in files:
        if file != source:
            digest.update(str(file.relative_to(source)).encode() + b"\0")
        with file.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
