"""Quality of generated Q&A: knowtune's default (sentence facts, templated questions) vs the model writing them.

    .venv/bin/python benchmarks/generation_quality.py [--data_path DIR --answer_key FILE] [--json PATH]

Runs `knowtune generate` twice on the same documents with the shipped 135M model: (a) seed 002's
way, the model listing facts and writing persona questions and answers (fact_source=model,
question_source=model), and (b) knowtune's default for a local model (fact_source=sentences,
question_source=templates). For each it prints, against the answer key (the facts a person lists,
one a line): fact recall (a key fact is recalled when a fact with training pairs holds at least
60% of its content words), kept training pairs per covered fact, the share of pairs whose answer
is supported by the document (all of its content words occur in it), the documents' languages,
and seconds per document. Defaults: the demo corpus and examples/demo/answer_key.txt.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from knowtune.config import load_config
from knowtune.data.ingest import read_documents
from knowtune.synth.config import GenerateConfig
from knowtune.synth.curate import content_words, support
from knowtune.synth.run import run

REPO = Path(__file__).resolve().parents[1]
VARIANTS = {
    "a": ("model writes facts and Q&A (seed 002)", ["fact_source=model", "question_source=model"]),
    "b": ("knowtune default (sentences, templates)", ["fact_source=sentences", "question_source=templates"]),
}


def measure(data_path: str, key_facts: list[str], overrides: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as save_dir:
        cfg = load_config(GenerateConfig, None, [f"data_path={data_path}", f"save_dir={save_dir}", *overrides])
        start = time.perf_counter()
        result = run(cfg)
        seconds = time.perf_counter() - start
        train = [json.loads(line) for line in (Path(save_dir) / "train.jsonl").read_text().splitlines()]
    documents, _ = read_documents([data_path], cfg.file_type, cfg.text_field)
    document_words = {d.source: content_words(d.text) for d in documents}
    covered = [f for f in result.coverage["facts"] if f["dropped"] is None and f["train"]]
    recalled = sum(any(support(content_words(key), content_words(f["fact"])) >= 0.6 for f in covered) for key in key_facts)
    supported = sum(support(content_words(r["answer"]), document_words[r["document"]]) == 1.0 for r in train)
    per_fact = Counter(r["fact_id"] for r in train)
    return {
        "fact_recall": recalled / len(key_facts),
        "facts_recalled": recalled,
        "key_facts": len(key_facts),
        "facts_covered": len(covered),
        "train_pairs": len(train),
        "heldout_pairs": result.coverage["totals"]["heldout"],
        "train_pairs_per_fact_min": min(per_fact.values(), default=0),
        "train_pairs_per_fact_mean": round(len(train) / len(per_fact), 2) if per_fact else 0.0,
        "answers_supported": supported / len(train) if train else 0.0,
        "languages": result.coverage.get("languages", {}),
        "seconds_per_document": seconds / max(len(documents), 1),
        "model_calls": result.model_calls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_path", default=str(REPO / "examples/demo/corpus"))
    parser.add_argument("--answer_key", default=str(REPO / "examples/demo/answer_key.txt"))
    parser.add_argument("--only", choices=sorted(VARIANTS), help="run one variant")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    key_facts = [line.strip() for line in Path(args.answer_key).read_text(encoding="utf-8").splitlines() if line.strip()]

    results = {}
    for name, (label, overrides) in VARIANTS.items():
        if args.only in (None, name):
            results[name] = {"label": label, **measure(args.data_path, key_facts, overrides)}
    print(f"{args.data_path}: {len(key_facts)} facts in the answer key\n")
    print("| variant | fact recall | train pairs / covered fact (min, mean) | answers supported | languages | s / document |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| ({name}) {r['label']} | {r['facts_recalled']}/{r['key_facts']} ({r['fact_recall']:.0%}) | "
              f"{r['train_pairs_per_fact_min']}, {r['train_pairs_per_fact_mean']} | {r['answers_supported']:.0%} | "
              f"{', '.join(f'{k} {v}' for k, v in r['languages'].items())} | {r['seconds_per_document']:.1f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
