"""The evidence a decision rests on: per-question results as accuracies with 95% intervals, base vs
tuned as a paired test, and the same questions asked with the documents' top-k chunks retrieved.

The four ways a held-out question is asked (base and tuned model, closed-book and with retrieval)
answer the first question about knowledge injection: would retrieval have done as well? (Ovadia
et al. 2023 found it often does; EntiGraph, Yang et al. 2024, found the two together best.)
`question_set` is what results.json records per QA dataset, `recommendation` the line a user acts on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

from knowtune.evaluate.eval_data import EvalDataset
from knowtune.models.generate import generate_batches
from knowtune.evaluate.qa_metrics import contains
from knowtune.evaluate.retrieval import BM25Index, Passage, chunk_documents, read_chunks, with_context
from knowtune.evaluate.stats import accuracy, describe_change, format_accuracy, paired

WAYS = ("base", "base_retrieval", "tuned", "tuned_retrieval")
SHOWN = {"base": "base model, closed-book", "base_retrieval": "base model + retrieval",
         "tuned": "tuned model, closed-book", "tuned_retrieval": "tuned model + retrieval"}


def load_passages(paths: list[str], tokenizer, chunk_tokens: int) -> list[Passage]:
    """A chunks.jsonl (what `knowtune generate` chunked) is read as it is; documents are chunked here."""
    if len(paths) == 1 and Path(paths[0]).suffix == ".jsonl" and _is_chunks_file(Path(paths[0])):
        return read_chunks(paths[0])
    return chunk_documents(paths, lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"]), chunk_tokens)


def _is_chunks_file(path: Path) -> bool:
    with path.open(encoding="utf-8") as f:
        first = next((line for line in f if line.strip()), "{}")
    try:
        record = json.loads(first)
    except json.JSONDecodeError:
        return False
    return isinstance(record, dict) and {"document", "chunk", "text"} <= set(record)


def flags_from_predictions(path: Path) -> list[bool]:
    """Per-question right/wrong (`contains`) of a predictions file that `knowtune eval` wrote, in dataset order."""
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [bool(line["contains"]) for line in sorted(lines, key=lambda line: line["index"])]


class Retrieved(NamedTuple):
    questions: list[str]
    passages: list[list[Passage]]  # each question's top k
    prompts: list[list[dict]]  # each question's messages, its passages before it


def with_retrieval(dataset: EvalDataset, index: BM25Index, k: int) -> Retrieved:
    """Each question of `dataset` with its top-k passages in its prompt."""
    questions = [item.prompt[-1]["content"] for item in dataset.items]
    retrieved = index.search(questions, k)
    prompts = [item.prompt[:-1] + [{"role": "user", "content": with_context(q, found)}]
               for item, q, found in zip(dataset.items, questions, retrieved)]
    return Retrieved(questions, retrieved, prompts)


def answer_with_retrieval(model, tokenizer, dataset: EvalDataset, asked: Retrieved, sink_path: Path,
                          batch_size: int, max_new_tokens: int) -> list[bool]:
    """Ask each question after its top-k passages (`with_retrieval`); write the answers with what was retrieved;
    return right/wrong."""
    questions, retrieved, prompts = asked
    flags, lines = [False] * len(prompts), [None] * len(prompts)
    for ids, answers, _ in generate_batches(model, tokenizer, prompts, batch_size, max_new_tokens):
        for i, answer in zip(ids, answers):
            flags[i] = contains(answer, dataset.items[i].gold)
            lines[i] = {"index": i, "where": dataset.items[i].where, "question": questions[i],
                        "retrieved": [f"{p.document}#{p.chunk}" for p in retrieved[i]],
                        "answers": dataset.items[i].gold, "prediction": answer, "contains": float(flags[i])}
    sink_path.parent.mkdir(parents=True, exist_ok=True)
    sink_path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    return flags


def question_set(flags: dict[str, list[bool]]) -> dict:
    """results.json's entry for one QA dataset: an accuracy with its interval per way it was asked,
    McNemar's test of tuned vs base closed-book, and with all four ways, which one to ship."""
    found = {way: accuracy(flags[way]) for way in WAYS if way in flags}
    found["n"] = len(next(iter(flags.values())))
    if "base" in flags and "tuned" in flags:
        found["mcnemar"] = paired(flags["base"], flags["tuned"])
    if all(way in flags for way in WAYS):
        found["ship"] = _ship(flags, found)
    return found


def _ship(flags: dict[str, list[bool]], found: dict) -> dict:
    """The most accurate way (of equals the simplest: WAYS runs from no work at all to both), and the
    paired test of it against the best of the simpler ways: is its lead more than noise?"""
    choice = max(WAYS, key=lambda w: (found[w]["correct"], -WAYS.index(w)))
    simpler = WAYS[: WAYS.index(choice)]
    if not simpler:
        return {"choice": choice, "runner_up": None, "mcnemar": None}
    runner_up = max(simpler, key=lambda w: (found[w]["correct"], -WAYS.index(w)))
    return {"choice": choice, "runner_up": runner_up, "mcnemar": paired(flags[runner_up], flags[choice])}


def recommendation(entry: dict) -> str:
    """The line a user acts on: what to ship, and whether its lead over the simpler option is more than noise."""
    ship = entry["ship"]
    choice, runner_up = ship["choice"], ship["runner_up"]
    what = {"base": "the base model as it is (it already answers these as well as anything else)",
            "base_retrieval": "retrieval over the documents, without fine-tuning",
            "tuned": "the tuned model (retrieval adds nothing here)",
            "tuned_retrieval": "the tuned model with retrieval"}[choice]
    line = f"Ship: {what}: {format_accuracy(entry[choice])}"
    if runner_up is None:
        return line
    test = ship["mcnemar"]
    noise = "a real lead" if test["p_value"] < 0.05 else "not distinguishable from noise on this many questions"
    return (f"{line}; against {SHOWN[runner_up]} ({entry[runner_up]['correct']}/{entry[runner_up]['n']}): "
            f"{test['gained']} gained, {test['lost']} lost, p = {test['p_value']:.2g}, {noise}")


def render(question_sets: dict) -> list[str]:
    """Markdown: per question set, the ways it was asked with intervals, the paired test, the recommendation."""
    if not question_sets:
        return []
    lines = ["## Accuracy with 95% intervals, and fine-tuning vs retrieval", "",
             "Share of questions answered (the gold answer appears in the reply), with its Wilson 95% interval; "
             "base vs tuned on the same questions by the exact McNemar test.", ""]
    for name, entry in question_sets.items():
        lines += [f"### {name} ({entry['n']} questions)", "", "| asked | answered |", "|---|---|"]
        lines += [f"| {SHOWN[w]} | {format_accuracy(entry[w])} |" for w in WAYS if w in entry]
        lines.append("")
        if "mcnemar" in entry:
            lines.append(f"- {describe_change('tuned vs base, closed-book', entry['mcnemar'])}")
        if "ship" in entry:
            lines.append(f"- {recommendation(entry)}")
        lines.append("")
    return lines


def verdict_detail(entry: dict | None) -> str:
    """What a verdict line adds from a question set: the tuned accuracy's interval and the paired test."""
    if not entry or "mcnemar" not in entry:
        return ""
    test, tuned, answered = entry["mcnemar"], entry["tuned"], entry["base"]["correct"]
    noise = "a real change" if test["p_value"] < 0.05 else "not distinguishable from noise"
    # The questions the base model answered are what there was to keep.
    return (f" (after: 95% CI {tuned['ci_low']:.0%}-{tuned['ci_high']:.0%}; of the {answered} the base model "
            f"answered, {answered - test['lost']} kept; {test['gained']} gained, {test['lost']} lost, "
            f"p = {test['p_value']:.2g}, {noise})")
