"""Closed-book QA check: ask the model each question and score its reply against the answer.

The headline number is `accuracy`, the share of replies that contain the key answer: a chat
model answers in full sentences ("It was cast in 1743."), which exact match would score 0.
Exact match and token F1 are reported beside it for short-answer datasets.
"""

from __future__ import annotations

import json
from pathlib import Path

from knowtune.errors import UserError
from knowtune.evaluate.eval_data import gold_answers
from knowtune.models.generate import GENERATION_BATCH, generate_answers
from knowtune.evaluate.qa_metrics import QAScorer


def load_qa_file(path: str | Path) -> list[dict]:
    """Read a JSONL file of {"question": str, "answer": str, ...} records (other fields are kept); accepted
    answers may be a list, `answers` (as in `knowtune eval`): `answer` is then the first, `answers` all."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"QA file {path} not found")
    records = []
    with path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise UserError(f"{path}:{line_no}: invalid JSON ({e.msg})") from e
            if not isinstance(record, dict):
                raise UserError(f"{path}:{line_no}: expected a JSON object, got {type(record).__name__}")
            if not isinstance(record.get("question"), str):
                problem = "missing" if "question" not in record else f"not a string ({type(record['question']).__name__})"
                raise UserError(f"{path}:{line_no}: field 'question' is {problem}")
            golds = gold_answers(record, f"{path}:{line_no}")
            records.append({**record, "answer": golds[0], "answers": golds})
    if not records:
        raise UserError(f"QA file {path} has no records")
    return records


def evaluate_qa(model, tokenizer, records: list[dict], batch_size: int = GENERATION_BATCH, max_new_tokens: int = 64) -> dict:
    """Generate an answer to each record's question; return the mean scores and every prediction."""
    if not records:
        raise ValueError("evaluate_qa needs at least one record")
    replies = generate_answers(
        model, tokenizer, [r["question"] for r in records], batch_size=batch_size, max_new_tokens=max_new_tokens
    )
    scorer, predictions = QAScorer(), []
    for record, reply in zip(records, replies):
        scores = scorer.add(reply, record.get("answers") or [record["answer"]])
        predictions.append(
            {"question": record["question"], "answer": record["answer"], "prediction": reply, "correct": bool(scores["contains"])}
        )
    means = scorer.result()
    return {
        "n": means["n"],
        "accuracy": means["contains"],
        "exact_match": means["exact_match"],
        "f1": means["f1"],
        "predictions": predictions,
    }
