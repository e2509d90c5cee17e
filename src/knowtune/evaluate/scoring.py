"""Score a model on one eval dataset, or score a file of predictions someone already made.

Every prediction is written to the `sink` (a JSONL file) as soon as its batch is done, beside its
gold answer and its own scores, so memory stays bounded however large the dataset is and the
file can be scored again with `knowtune eval --predictions`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

from knowtune.data import load_records
from knowtune.errors import UserError
from knowtune.evaluate.eval_data import EvalDataset, EvalItem, gold_answers
from knowtune.evaluate.extraction_metrics import ExtractionScorer, as_entities, parse_entities
from knowtune.models.generate import generate_batches
from knowtune.evaluate.perplexity import perplexity, text_nlls
from knowtune.evaluate.qa_metrics import QAScorer, _is_cjk, contains

UNPARSABLE_SHOWN = 5  # locations of unparsable outputs kept for the report


def _scorer(metric: str) -> QAScorer | ExtractionScorer:
    return QAScorer() if metric == "qa" else ExtractionScorer()


def _score(scorer, item_gold, prediction, where: str, unparsable: list[str]) -> dict:
    """Score one prediction; return the fields its predictions line gets."""
    if isinstance(scorer, QAScorer):
        return {"answers": item_gold, "prediction": prediction, **scorer.add(prediction, item_gold)}
    parsed = parse_entities(prediction)
    if parsed is None and len(unparsable) < UNPARSABLE_SHOWN:
        unparsable.append(where)
    return {
        "entities": [{"type": t, "value": v} for t, v in item_gold],
        "prediction": prediction,
        "predicted_entities": None if parsed is None else [{"type": t, "value": v} for t, v in parsed],
        **scorer.add(item_gold, parsed),
    }


def _write(sink: TextIO | None, line: dict) -> None:
    if sink is not None:
        sink.write(json.dumps(line, ensure_ascii=False) + "\n")


def answered_check(tokenizer, accepted: Sequence[str]) -> Callable[[list[int]], bool]:
    """An `ends` test for greedy decoding scored by `contains` (knowtune.evaluate.qa_metrics): true once the
    answer's tokens before its last one contain an accepted answer and that last token starts a new word
    (whitespace, or a CJK character, which is a word of its own). Writing on cannot take the accepted answer
    out again, so `contains` of the answer cut there is that of the whole answer: "25" then "0" is not
    ended ("250"), "25" then " is" is. Exact match and F1 of the shorter answer differ."""
    def answered(ids: list[int]) -> bool:
        if len(ids) < 2:
            return False
        first = tokenizer.decode(ids[-1:], skip_special_tokens=True)[:1]
        if not first or not (first.isspace() or _is_cjk(first)):
            return False
        return contains(tokenizer.decode(ids[:-1], skip_special_tokens=True), accepted)

    return answered


def _answered(model, tokenizer, datasets: list[EvalDataset], batch_size: int, max_new_tokens: int, **decoding):
    """Yield ([(dataset index, item index, answer), ...], batch size used), one batch at a time, the items
    of all `datasets` decoded as one set of prompts: on a CPU's wide batches, sets asked together fill one
    batch instead of one each, and rows that end leave it (knowtune.models.generate)."""
    owners = [(d, i) for d, dataset in enumerate(datasets) for i in range(len(dataset.items))]
    prompts = [datasets[d].items[i].prompt for d, i in owners]
    ends = None
    if any(dataset.ends_when_answered and dataset.metric == "qa" for dataset in datasets):
        ends = [answered_check(tokenizer, datasets[d].items[i].gold)
                if datasets[d].ends_when_answered and datasets[d].metric == "qa" else None for d, i in owners]
    for ids, answers, used in generate_batches(model, tokenizer, prompts, batch_size, max_new_tokens, ends=ends,
                                               **decoding):
        yield [(*owners[k], answer) for k, answer in zip(ids, answers)], used


def evaluate_dataset(
    model,
    tokenizer,
    dataset: EvalDataset,
    *,
    batch_size: int = 8,
    shrink_on_oom: bool = False,
    max_new_tokens: int = 64,
    temperature: float = 0.0,
    top_p: float = 1.0,
    max_length: int = 1024,
    stride: int = 512,
    sink: TextIO | None = None,
) -> dict:
    """The dataset's metrics, `batch_size` (the size used in the end) and, for extraction, where
    unparsable outputs were found."""
    items = dataset.items
    if not items:
        raise ValueError(f"dataset {dataset.name} has nothing to evaluate")
    if dataset.metric == "perplexity":
        return _perplexity(model, tokenizer, items, batch_size, shrink_on_oom, max_length, stride, sink)
    scorer, unparsable, used = _scorer(dataset.metric), [], batch_size
    for answered, used in _answered(model, tokenizer, [dataset], batch_size, max_new_tokens,
                                    temperature=temperature, top_p=top_p, shrink_on_oom=shrink_on_oom):
        for _, i, answer in answered:
            line = {"index": i, "where": items[i].where, **items[i].shown}
            _write(sink, line | _score(scorer, items[i].gold, answer, items[i].where, unparsable))
        if sink is not None:
            sink.flush()
    result = {**scorer.result(), "batch_size": used}
    if dataset.metric == "extraction":
        result["unparsable_where"] = unparsable
    return result


def _perplexity(model, tokenizer, items: list[EvalItem], batch_size, shrink_on_oom, max_length, stride, sink) -> dict:
    total_nll, tokens, windows, used = 0.0, 0, 0, batch_size
    for i, nll, count, n_windows, used in text_nlls(
        model, tokenizer, [item.gold for item in items], max_length, stride, batch_size, shrink_on_oom
    ):
        total_nll, tokens, windows = total_nll + nll, tokens + count, windows + n_windows
        _write(sink, {"index": i, "where": items[i].where, "tokens": count, "nll": nll,
                      "perplexity": perplexity(nll, count) if count else None})
    return {
        "n": len(items),
        "perplexity": perplexity(total_nll, tokens) if tokens else None,
        "mean_nll": total_nll / tokens if tokens else None,
        "tokens": tokens,
        "windows": windows,
        "batch_size": used,
    }


def generation_metrics(
    model, tokenizer, dataset: EvalDataset, batch_size: int = 8, max_new_tokens: int = 64
) -> dict[str, float]:
    """Flat metrics of a qa or extraction dataset, for eval during training.

    qa: exact_match, f1, contains; extraction: precision, recall, f1 (micro), macro_precision,
    macro_recall, macro_f1, unparsable. Greedy, left padded, nothing written to disk.
    """
    return generation_metrics_together(model, tokenizer, [dataset], batch_size, max_new_tokens)[0]


def generation_metrics_together(
    model, tokenizer, datasets: list[EvalDataset], batch_size: int = 8, max_new_tokens: int = 64
) -> list[dict[str, float]]:
    """`generation_metrics` of each dataset, in order, their questions decoded in one pass: the same greedy
    answers, with fewer batches (checkpoint selection asks three sets at every evaluation)."""
    for dataset in datasets:
        if dataset.metric == "perplexity":
            raise ValueError("generation_metrics scores qa or extraction datasets; perplexity follows from eval_loss")
        if not dataset.items:
            raise ValueError(f"dataset {dataset.name} has nothing to evaluate")
    scorers, unparsable = [_scorer(d.metric) for d in datasets], []
    for answered, _ in _answered(model, tokenizer, datasets, batch_size, max_new_tokens):
        for d, i, answer in answered:
            item = datasets[d].items[i]
            _score(scorers[d], item.gold, answer, item.where, unparsable)
    return [{k: float(v) for k, v in scorer.result().items() if isinstance(v, (int, float)) and k != "n"}
            for scorer in scorers]


def metrics_from_answers(datasets: list[EvalDataset], predictions: str | Path) -> list[dict[str, float] | None]:
    """`generation_metrics` of each of `datasets` from answers already written (a predictions file of `knowtune
    eval`, read once), each item found by its question and accepted answers; None for a set the file lacks any
    question of."""
    answers = {}
    if not Path(predictions).is_file():
        raise UserError(f"{predictions}: no such file (a predictions file of `knowtune eval` was expected)")
    for number, line in enumerate(Path(predictions).read_text(encoding="utf-8").splitlines(), start=1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"{predictions}:{number}: not a JSON line ({e.msg})") from None
        if isinstance(row, dict) and isinstance(row.get("question"), str) and isinstance(row.get("prediction"), str):
            answers[(row["question"], json.dumps(row.get("answers")))] = row["prediction"]
    found = []
    for dataset in datasets:
        said = [answers.get((item.shown.get("question"), json.dumps(item.gold))) for item in dataset.items]
        if dataset.metric != "qa" or not said or None in said:
            found.append(None)
            continue
        scorer = _scorer("qa")
        for item, answer in zip(dataset.items, said):
            _score(scorer, item.gold, answer, item.where, [])
        found.append({k: float(v) for k, v in scorer.result().items() if k != "n"})
    return found


def score_predictions_file(path: str, metric: str = "auto") -> tuple[dict, int, list[str]]:
    """Score a JSONL of `prediction` + gold lines; return (metrics, lines read, problems)."""
    records = load_records([path])
    if metric == "perplexity":
        raise UserError(f"{path}: a predictions file holds generated answers; perplexity needs a model")
    if metric == "auto":
        first = next((r.data for r in records if isinstance(r.data, dict)), {})
        metric = "extraction" if "entities" in first else "qa"
    scorer, unparsable, problems = _scorer(metric), [], []
    for record in records:
        data, where = record.data, record.where
        try:
            if not isinstance(data, dict):
                raise UserError(f"{where}: a line must be a JSON object, got {type(data).__name__}")
            prediction = data.get("prediction")
            if prediction is None:
                raise UserError(f"{where}: missing field 'prediction'")
            if metric == "qa":
                if not isinstance(prediction, str):
                    raise UserError(f"{where}: field 'prediction' must be a string")
                gold = gold_answers(data, where)
            else:
                gold = as_entities(data.get("entities"))
                if gold is None:
                    raise UserError(f"{where}: field 'entities' must be a list of {{type, value}} objects")
        except UserError as e:
            problems.append(str(e))
            continue
        _score(scorer, gold, prediction, where, unparsable)
    if not scorer.n:
        raise UserError(f"{path}: no line could be scored ({problems[0] if problems else 'empty file'})")
    result = {"metric": metric, **scorer.result()}
    if metric == "extraction":
        result["unparsable_where"] = unparsable
    return result, len(records), problems
