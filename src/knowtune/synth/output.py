"""What `knowtune generate` writes: the train/held-out split, the rejected pairs, the coverage report.

Every file is written beside its final name and renamed into place, so a reader (or a run killed
halfway through writing) never sees a half-written file.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

from knowtune.config import to_yaml
from knowtune.data.chunk import Chunk
from knowtune.data.ingest import Document, Skipped
from knowtune.fileio import write_atomic
from knowtune.synth.config import GenerateConfig
from knowtune.synth.curate import key_answer
from knowtune.synth.facts import HELDOUT_FORMS, Fact, Pair
from knowtune.synth.sentences import language


def _jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def split(
    kept: dict[str, list[Pair]], heldout_per_fact: int, min_train: int, seed: int
) -> tuple[list[Pair], list[tuple[Pair, str]]]:
    """Per fact, up to `heldout_per_fact` real questions (seeded choice, different answers first) to held-out,
    once the fact has `min_train` pairs for training; held-out pairs are marked dev and test in turn.

    A templated question whose answer span (its key) no other pair of the fact asks stays in training: held-out
    questions ask, in other words, what training asks, and training asks every span (a fact's only "who" question
    held out left the name it answers never asked for)."""
    train, heldout = [], []
    for fact_id, pairs in kept.items():
        rng = random.Random(f"{seed}:{fact_id}")
        candidates = [i for i, p in enumerate(pairs) if p.form in HELDOUT_FORMS]
        rng.shuffle(candidates)
        n_heldout = min(heldout_per_fact, len(candidates), max(len(pairs) - min_train, 0))
        chosen, keys, asked = [], set(), Counter(p.key for p in pairs if p.key)
        for distinct_first in (True, False):
            for i in candidates:
                key = pairs[i].key or pairs[i].question
                if pairs[i].key and asked[pairs[i].key] < 2:
                    continue  # the last pair that asks this span
                if len(chosen) < n_heldout and i not in chosen and (key not in keys or not distinct_first):
                    chosen.append(i)
                    keys.add(key)
                    if pairs[i].key:
                        asked[pairs[i].key] -= 1
        for index, pair in enumerate(pairs):
            if index not in chosen:
                train.append(pair)
        heldout += [(pairs[i], "dev" if (len(heldout) + k) % 2 == 0 else "test") for k, i in enumerate(sorted(chosen))]
    return train, heldout


def _record(pair: Pair) -> dict:
    fact = pair.fact
    return {
        "question": pair.question,
        "answer": pair.answer,
        "fact": fact.text,
        "fact_id": fact.id,
        "document": fact.chunk.document,
        "chunk": fact.chunk.index,
        "persona": pair.persona,
        "form": pair.form,
        "key": pair.key,  # the answer span a templated question asks for
    }


def _heldout_record(pair: Pair, part: str) -> dict:
    """A held-out reply is scored by whether it contains `answer`: keep there only the part that carries the fact."""
    record = _record(pair)
    record["answer"] = pair.key or key_answer(pair.question, pair.answer, pair.fact.text)
    record["full_answer"] = pair.answer
    record["split"] = part
    return record


def write_outputs(
    save_dir: Path,
    cfg: GenerateConfig,
    documents: list[Document],
    chunks: list[Chunk],
    facts: list[Fact],
    pairs: list[Pair],
    skipped_files: list[Skipped],
    skipped_calls: list[Skipped],
    notes: list[str] = (),
) -> dict:
    """Write every output file into `save_dir`; return the coverage report."""
    kept: dict[str, list[Pair]] = {f.id: [] for f in facts if f.dropped is None}
    for p in pairs:
        if p.dropped is None:
            kept[p.fact.id].append(p)
    train, heldout = split(kept, cfg.heldout_per_fact, cfg.min_train_pairs_per_fact, cfg.seed)
    coverage = _coverage(cfg, documents, chunks, facts, pairs, kept, train, heldout, skipped_files, skipped_calls)
    coverage["notes"] = list(notes)

    save_dir.mkdir(parents=True, exist_ok=True)
    rejected = [{**_record(p), "reason": p.dropped} for p in pairs if p.dropped is not None]
    write_atomic(save_dir / "train.jsonl", _jsonl([_record(p) for p in train]))
    write_atomic(save_dir / "heldout.jsonl", _jsonl([_heldout_record(p, part) for p, part in heldout]))
    write_atomic(save_dir / "facts.jsonl", _jsonl([
        {"fact_id": f.id, "fact": f.text, "origin": f.origin, "language": f.language, "document": f.chunk.document,
         "chunk": f.chunk.index, "dropped": f.dropped} for f in facts]))
    # The same chunks that generation read: retrieval baselines search these.
    write_atomic(save_dir / "chunks.jsonl", _jsonl([{"document": c.document, "chunk": c.index, "text": c.text}
                                                    for c in chunks]))
    write_atomic(save_dir / "rejected.jsonl", _jsonl(rejected))
    write_atomic(save_dir / "coverage.json", json.dumps(coverage, indent=2, ensure_ascii=False) + "\n")
    write_atomic(save_dir / "coverage.md", coverage_markdown(coverage))
    write_atomic(save_dir / "config.yaml", to_yaml(cfg))
    return coverage


def _coverage(cfg, documents, chunks, facts, pairs, kept, train, heldout, skipped_files, skipped_calls) -> dict:
    generated = Counter(p.fact.id for p in pairs)
    in_train, in_heldout = Counter(p.fact.id for p in train), Counter(p.fact.id for p, _ in heldout)
    parts = Counter(part for _, part in heldout)
    per_fact = [
        {
            "fact_id": f.id,
            "fact": f.text,
            "document": f.chunk.document,
            "chunk": f.chunk.index,
            "chunk_chars": [f.chunk.start, f.chunk.end],
            "origin": f.origin,
            "language": f.language,
            "dropped": f.dropped,
            "pairs_generated": generated[f.id],
            "pairs_kept": len(kept.get(f.id, [])),
            "train": in_train[f.id],
            "heldout": in_heldout[f.id],
        }
        for f in facts
    ]
    live = [f for f in per_fact if f["dropped"] is None]
    n_kept = sum(f["pairs_kept"] for f in live)
    covered_train = [f["train"] for f in live if f["pairs_kept"]]
    return {
        "model": {"model_type": cfg.model_type, "model_name_or_path": cfg.model_name_or_path},
        "totals": {
            "documents": len(documents),
            "files_skipped": len(skipped_files),
            "chunks": len(chunks),
            "facts_extracted": len(facts),
            "facts_kept": len(live),
            "facts_from_sentences": sum(1 for f in live if f["origin"] == "sentence"),
            "facts_from_model": sum(1 for f in live if f["origin"] == "model"),
            "facts_covered": sum(1 for f in live if f["pairs_kept"]),
            "facts_in_heldout": sum(1 for f in live if f["heldout"]),
            "pairs_generated": len(pairs),
            "pairs_kept": n_kept,
            "survival_rate": round(n_kept / len(pairs), 4) if pairs else 0.0,
            "train": len(train),
            "heldout": len(heldout),
            "dev": parts["dev"],
            "test": parts["test"],
            "train_pairs_per_fact_min": min(covered_train, default=0),
            "train_pairs_per_fact_mean": round(sum(covered_train) / len(covered_train), 2) if covered_train else 0.0,
            "calls_skipped": len(skipped_calls),
        },
        "languages": dict(Counter(language(d.text) or "unknown" for d in documents)),
        "dropped_facts": dict(Counter(f.dropped for f in facts if f.dropped).most_common()),
        "dropped_pairs": dict(Counter(p.dropped for p in pairs if p.dropped).most_common()),
        "facts_without_pairs": [{"fact_id": f["fact_id"], "fact": f["fact"]} for f in live if not f["pairs_kept"]],
        "facts": per_fact,
        "skipped_files": [{"source": s.source, "reason": s.reason} for s in skipped_files],
        "skipped_calls": [{"request": s.source, "reason": s.reason} for s in skipped_calls],
    }


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def coverage_markdown(coverage: dict) -> str:
    t, model = coverage["totals"], coverage["model"]
    share = f" ({t['facts_covered'] / t['facts_kept']:.0%})" if t["facts_kept"] else ""
    lines = [
        "# Coverage of the generated QA data",
        "",
        f"{t['documents']} documents ({t['files_skipped']} skipped), {t['chunks']} chunks, "
        f"model {model['model_name_or_path']} ({model['model_type']}).",
        "",
        "| | count |",
        "|---|---|",
        f"| facts extracted | {t['facts_extracted']} |",
        f"| facts kept | {t['facts_kept']} |",
        f"| facts with at least one pair | {t['facts_covered']} of {t['facts_kept']}{share} |",
        f"| facts asked about in heldout.jsonl | {t['facts_in_heldout']} |",
        f"| Q&A pairs generated | {t['pairs_generated']} |",
        f"| pairs that survived curation | {t['pairs_kept']} ({t['survival_rate']:.0%}) |",
        f"| facts from sentences / listed by the model | {t['facts_from_sentences']} / {t['facts_from_model']} |",
        f"| train.jsonl / heldout.jsonl (dev + test) | {t['train']} / {t['heldout']} ({t['dev']} + {t['test']}) |",
        f"| training pairs per covered fact, fewest / mean | {t['train_pairs_per_fact_min']} / "
        f"{t['train_pairs_per_fact_mean']} |",
        f"| model calls skipped | {t['calls_skipped']} |",
    ]
    if coverage.get("languages"):
        lines += ["", "Languages of the documents: " + ", ".join(f"{k} {v}" for k, v in coverage["languages"].items()) + "."]
    if coverage.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {_cell(n)}" for n in coverage["notes"]]
    for title, counts in [("Why pairs were dropped", coverage["dropped_pairs"]),
                          ("Why facts were dropped", coverage["dropped_facts"])]:
        if counts:
            lines += ["", f"## {title}", "", "| reason | count |", "|---|---|"]
            lines += [f"| {_cell(reason)} | {n} |" for reason, n in counts.items()]
    if coverage["facts_without_pairs"]:
        lines += ["", "## Facts without any pair", ""]
        lines += [f"- `{f['fact_id']}`: {_cell(f['fact'])}" for f in coverage["facts_without_pairs"]]
    lines += ["", "## Pairs per fact", "", "| fact | generated | kept | train | held-out |", "|---|---|---|---|---|"]
    lines += [
        f"| `{f['fact_id']}` {_cell(f['fact'])} | {f['pairs_generated']} | {f['pairs_kept']} | {f['train']} "
        f"| {f['heldout']} |"
        for f in coverage["facts"]
        if f["dropped"] is None
    ]
    for title, key, name in [("Skipped files", "skipped_files", "source"),
                             ("Skipped model calls", "skipped_calls", "request")]:
        if coverage[key]:
            lines += ["", f"## {title}", ""]
            lines += [f"- {_cell(s[name])}: {_cell(s['reason'])}" for s in coverage[key]]
    return "\n".join(lines) + "\n"
