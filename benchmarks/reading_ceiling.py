"""What the model answers with the document in front of it: an open-book ceiling for closed-book tuning.

    .venv/bin/python benchmarks/reading_ceiling.py [SET ...] [--pair DOCS QUESTIONS ...] [--context source|all]
        [--model PATH] [--json PATH]

Each SET is a folder with `docs/` (the documents `knowtune run --data_path` trains on) and `questions.jsonl` (the
test questions with their accepted answers, as `heldout=` takes them); `--pair` names the two apart (the demo:
`--pair examples/demo/corpus examples/demo/heldout.jsonl`). Every question is asked of the untuned model
with documents before it in the prompt, greedily, 64 new tokens, and scored as `knowtune run`'s verdict scores it
(`contains`: an accepted answer appears in the reply):

- `--context source` (the default): the documents that hold one of the question's accepted answers (all of them
  where none does). The model is shown the very text the answer is in; no retrieval can do better.
- `--context all`: every document of the set.

`knowtune run`'s report gives the same questions asked closed-book of the base and the tuned model and with BM25
retrieval (top 3 chunks). A tuned model that answers a question closed-book has learnt it; this benchmark says how
many of the questions the model can answer at all when it only has to read.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from knowtune.data.ingest import FILE_TYPES, read_documents
from knowtune.evaluate.eval_data import load_eval_dataset
from knowtune.evaluate.qa_metrics import contains
from knowtune.evaluate.retrieval import Passage, with_context
from knowtune.models import DEFAULT_MODEL
from knowtune.models.generate import generate_batches
from knowtune.models.loading import load_model, load_tokenizer
from knowtune.models.shipped import prepare_shipped_model


def ask(model, tokenizer, docs: str, questions: str, context: str) -> tuple[int, int, float]:
    documents = [Passage(d.source, 0, d.text) for d in read_documents([docs], list(FILE_TYPES))[0]]
    dataset = load_eval_dataset(questions, metric="qa")
    prompts = []
    for item in dataset.items:
        # as `knowtune eval --retrieval` shows its passages (with_context), the documents chosen instead of retrieved
        shown = [d for d in documents if context == "all" or any(a.lower() in d.text.lower() for a in item.gold)]
        prompts.append(item.prompt[:-1] + [{"role": "user", "content": with_context(item.prompt[-1]["content"],
                                                                                    shown or documents)}])
    start, right = time.perf_counter(), 0
    for ids, answers, _ in generate_batches(model, tokenizer, prompts, 8, 64):
        right += sum(contains(answer, dataset.items[i].gold) for i, answer in zip(ids, answers))
    return right, len(prompts), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="*", help="folders with docs/ and questions.jsonl")
    parser.add_argument("--pair", nargs=2, action="append", default=[], metavar=("DOCS", "QUESTIONS"),
                        help="a documents folder and its questions file")
    parser.add_argument("--context", choices=["source", "all"], default="source")
    parser.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    pairs = [(str(Path(s) / "docs"), str(Path(s) / "questions.jsonl"), Path(s).name) for s in args.sets]
    pairs += [(docs, questions, Path(docs).parent.name if Path(docs).name in ("corpus", "docs") else Path(docs).name)
              for docs, questions in args.pair]
    if not pairs:
        parser.error("give at least one SET or --pair")
    path = args.model or str(prepare_shipped_model(DEFAULT_MODEL))
    tokenizer, model = load_tokenizer(path), load_model(path).eval()
    rows = []
    print(f"| set | answered with the {args.context} document(s) in the prompt | seconds |")
    print("|---|---|---|")
    for docs, questions, name in pairs:
        right, total, seconds = ask(model, tokenizer, docs, questions, args.context)
        rows.append({"set": name, "answered": right, "questions": total, "seconds": round(seconds, 1)})
        print(f"| {name} | {right}/{total} ({right / total:.0%}) | {seconds:.0f} |", flush=True)
    right, total = sum(r["answered"] for r in rows), sum(r["questions"] for r in rows)
    print(f"| all | {right}/{total} ({right / total:.0%}) | |")
    if args.json:
        Path(args.json).write_text(json.dumps({"model": path, "context": args.context, "sets": rows,
                                               "answered": right, "questions": total}, indent=2) + "\n")


if __name__ == "__main__":
    main()
