"""Ask an exported model the questions that prove the run's knowledge, and compare with the run's own model.

The questions are the run's held-out ones (what it learned), any `--questions` files, and the shipped
general-knowledge suite (what it kept). The run's model answers through transformers; the export
answers through the engine that will run it (llama.cpp for a GGUF, with the file's own chat template,
or with the Ollama Modelfile's template and stop strings). More than one question that the run's
model got right and the export got wrong, on any set, fails the export; the cause is named when the
file shows it (template, end-of-turn token) or the settings suggest it (quantization).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import json

from knowtune.errors import UserError
from knowtune.evaluate.eval_data import EvalDataset, fingerprint, load_eval_dataset, suite_path
from knowtune.models.generate import generate_answers
from knowtune.evaluate.qa_metrics import QAScorer

MAX_NEW_TOKENS = 64  # as knowtune eval: a fact fits in a sentence
RETENTION = "retention"
LOSS_ALLOWED = 1  # questions a set may lose: greedy decoding in another engine flips a borderline answer
LOSSLESS_TYPES = ("f32", "f16", "bf16")


@dataclass
class Reply:
    text: str
    ran_to_limit: bool = False  # stopped by the token limit, not by an end-of-turn token


Answerer = Callable[[list[list[dict]]], list[Reply]]


def question_sets(heldout: Path | None, extra: list[str], system_prompt: str | None,
                  max_questions: int | None = None) -> list[EvalDataset]:
    """heldout (the run's), each --questions file, and the retention suite (each its first `max_questions`);
    each with at least one question."""
    named = ([("heldout", str(heldout))] if heldout else []) + [(Path(q).stem, q) for q in extra]
    named.append((RETENTION, suite_path("general_knowledge.jsonl")))
    sets = []
    for name, path in named:
        if not Path(path).is_file():
            raise UserError(f"questions file {path} not found")
        dataset = load_eval_dataset(path, "qa", name, system_prompt=system_prompt, max_samples=max_questions)
        if not dataset.items:
            raise UserError(f"{path}: no usable question ({'; '.join(dataset.problems[:2])})")
        sets.append(dataset)
    return sets


def transformers_answerer(model, tokenizer) -> Answerer:
    def answer(prompts):
        return [Reply(text) for text in generate_answers(model, tokenizer, prompts, max_new_tokens=MAX_NEW_TOKENS)]

    return answer


def llama_chat_answerer(llm) -> Answerer:
    """Through llama.cpp's chat completion: the GGUF's own chat template and end-of-sequence token."""

    def answer(prompts):
        replies = []
        for messages in prompts:
            out = llm.create_chat_completion(messages=messages, temperature=0.0, max_tokens=MAX_NEW_TOKENS)
            choice = out["choices"][0]
            replies.append(Reply((choice["message"]["content"] or "").strip(), choice["finish_reason"] == "length"))
        return replies

    return answer


def llama_prompt_answerer(llm, render: Callable[[list[dict]], str], stop: list[str]) -> Answerer:
    """Through llama.cpp on a prompt rendered as another runtime (Ollama) would, with its stop strings."""

    def answer(prompts):
        replies = []
        for messages in prompts:
            out = llm.create_completion(render(messages), temperature=0.0, max_tokens=MAX_NEW_TOKENS, stop=stop)
            choice = out["choices"][0]
            replies.append(Reply(choice["text"].strip(), choice["finish_reason"] == "length"))
        return replies

    return answer


def _scored(dataset: EvalDataset, replies: list[Reply]) -> list[dict]:
    scorer = QAScorer()
    return [{"question": item.prompt[-1]["content"], "gold": item.gold, "reply": reply.text,
             "ran_to_limit": reply.ran_to_limit, "correct": bool(scorer.add(reply.text, item.gold)["contains"])}
            for item, reply in zip(dataset.items, replies)]


def ask(sets: list[EvalDataset], answerer: Answerer, known: dict[str, list[dict]] | None = None) -> dict[str, list[dict]]:
    """Every question of every set answered and scored: {set name: [{question, answer, reply, correct, ...}]}.

    Sets in `known` (the run's own answers, recorded by its evaluation) are taken from there, not asked.
    """
    return {d.name: (known or {}).get(d.name) or _scored(d, answerer([item.prompt for item in d.items])) for d in sets}


def recorded_answers(run_dir: Path | None, model_dir: Path, adapter: bool, system_prompt: str | None,
                     sets: list[EvalDataset], tokenizer) -> dict[str, list[dict]]:
    """The run's model's answers to these sets as its final evaluation (`knowtune run`'s eval/) recorded them.

    Only where they were asked of these very weights (the fingerprint results.json holds), greedily, with
    this check's token limit and system prompt, of the same file and items; anything else is asked again.
    Whether a reply ran to the token limit is not recorded: a reply of the limit's length (re-tokenized) did.
    """
    results_file = (run_dir / "eval" / "results.json") if run_dir else None
    if results_file is None or not results_file.is_file():
        return {}
    try:
        results = json.loads(results_file.read_text(encoding="utf-8"))
        settings, model = results["settings"], results["models"]["model"]
        recorded_sets = results["datasets"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if (settings.get("max_new_tokens") != MAX_NEW_TOKENS or settings.get("temperature")
            or settings.get("system_prompt") != system_prompt):
        return {}
    weights = model.get("adapter_sha256") if adapter else (None if model.get("adapter") else model.get("base_sha256"))
    if not weights or weights != fingerprint(str(model_dir)):
        return {}
    found = {}
    for dataset in sets:
        name = next((n for n, d in recorded_sets.items() if dataset.sha256 and d.get("sha256") == dataset.sha256), None)
        predictions = run_dir / "eval" / "predictions" / f"{name}.jsonl"
        if name is None or not predictions.is_file():
            continue
        by_index = {}
        for line in predictions.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            by_index[row["index"]] = row
        rows = [by_index.get(i) for i in range(len(dataset.items))]
        if all(r and r["question"] == item.prompt[-1]["content"] for r, item in zip(rows, dataset.items)):
            lengths = [len(ids) for ids in tokenizer([r["prediction"] for r in rows], add_special_tokens=False)["input_ids"]]
            found[dataset.name] = _scored(dataset, [Reply(r["prediction"], n >= MAX_NEW_TOKENS - 1)
                                                    for r, n in zip(rows, lengths)])
    return found


def to_ask_the_export(sets: list[EvalDataset], reference: dict[str, list[dict]]) -> list[EvalDataset]:
    """The retention suite is asked only where the run's model answered it: an answer it did not have cannot be lost."""
    narrowed = []
    for dataset in sets:
        if dataset.name == RETENTION:
            kept = [item for item, row in zip(dataset.items, reference[dataset.name]) if row["correct"]]
            dataset = EvalDataset(dataset.name, dataset.path, dataset.metric, kept, len(kept), dataset.problems, dataset.sha256)
        narrowed.append(dataset)
    return narrowed


def compare(reference: dict[str, list[dict]], exported: dict[str, list[dict]]) -> dict[str, dict]:
    table = {}
    for name, ref in reference.items():
        exp = exported[name]
        if len(exp) < len(ref):  # asked only where the run's model was right (to_ask_the_export)
            ref = [r for r in ref if r["correct"]]
        lost = [r["question"] for r, e in zip(ref, exp) if r["correct"] and not e["correct"]]
        table[name] = {
            "n": len(ref),
            "reference_correct": sum(r["correct"] for r in ref),
            "exported_correct": sum(e["correct"] for e in exp),
            "lost": lost,
            "ran_to_limit": sum(e["ran_to_limit"] for e in exp),
            "reference_ran_to_limit": sum(r["ran_to_limit"] for r in ref),
        }
    return table


def diagnose(table: dict[str, dict], template_problem: str | None, outtype: str | None) -> str:
    """The most likely cause of lost answers, from what the file and the replies show."""
    if template_problem:
        return f"template: {template_problem}"
    n = sum(row["n"] for row in table.values())
    runaway = sum(row["ran_to_limit"] - row["reference_ran_to_limit"] for row in table.values())
    if runaway > n // 4:
        return (f"end-of-turn token: {runaway} more replies than the run's model ran to the {MAX_NEW_TOKENS}-token "
                "limit instead of ending their turn (the end-of-turn token is not the file's end-of-sequence token?)")
    if outtype and outtype not in LOSSLESS_TYPES:
        return f"quantization: {outtype} changed the answers; export with --quantization f16 to compare"
    return "unknown: the replies beside the run's model's are in verify.json"


def passed(table: dict[str, dict]) -> bool:
    return all(len(row["lost"]) <= LOSS_ALLOWED for row in table.values())


def format_table(table: dict[str, dict], engine: str) -> str:
    width = max(len(name) for name in table)
    lines = [f"{'questions':<{width}}  {'run model (transformers)':>24}  {'export (' + engine + ')':>24}  lost"]
    for name, row in table.items():
        ref = f"{row['reference_correct']}/{row['n']}"
        exp = f"{row['exported_correct']}/{row['n']}"
        lines.append(f"{name:<{width}}  {ref:>24}  {exp:>24}  {len(row['lost'])}")
    return "\n".join(lines)
