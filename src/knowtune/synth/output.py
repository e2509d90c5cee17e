"""What `knowtune generate` writes: the train/held-out split, the rejected pairs, the coverage report.

Every file is written beside its final name and renamed into place, so a reader (or a run killed
halfway through writing) never sees a half-written file.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from knowtune.config import to_yaml
from knowtune.data.chunk import Chunk
from knowtune.data.ingest import Document, Skipped
from knowtune.fileio import write_atomic
from knowtune.synth.config import GenerateConfig
from knowtune.synth.curate import key_answer

if TYPE_CHECKING:
    from knowtune.synth.run import Fact, Pair


def _jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def split(kept: dict[str, list[Pair]], heldout_per_fact: int, seed: int) -> tuple[list[Pair], list[Pair]]:
    """Per fact, `heldout_per_fact` pairs (drawn by a seeded choice) to held-out, at least one to train."""
    train, heldout = [], []
    for fact_id, pairs in kept.items():
        n_heldout = min(heldout_per_fact, len(pairs) - 1)
        chosen = set(random.Random(f"{seed}:{fact_id}").sample(range(len(pairs)), max(n_heldout, 0)))
        for index, pair in enumerate(pairs):
            (heldout if index in chosen else train).append(pair)
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
    }


def _heldout_record(pair: Pair) -> dict:
    """A held-out reply is scored by whether it contains `answer`: keep there only the part that carries the fact."""
    record = _record(pair)
    record["answer"] = key_answer(pair.question, pair.answer, pair.fact.text)
    record["full_answer"] = pair.answer
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
) -> dict:
    """Write every output file into `save_dir`; return the coverage report."""
    kept: dict[str, list[Pair]] = {f.id: [] for f in facts if f.dropped is None}
    for p in pairs:
        if p.dropped is None:
            kept[p.fact.id].append(p)
    train, heldout = split(kept, cfg.heldout_per_fact, cfg.seed)
    coverage = _coverage(cfg, documents, chunks, facts, pairs, kept, train, heldout, skipped_files, skipped_calls)

    save_dir.mkdir(parents=True, exist_ok=True)
    rejected = [{**_record(p), "reason": p.dropped} for p in pairs if p.dropped is not None]
    write_atomic(save_dir / "train.jsonl", _jsonl([_record(p) for p in train]))
    write_atomic(save_dir / "heldout.jsonl", _jsonl([_heldout_record(p) for p in heldout]))
    write_atomic(save_dir / "rejected.jsonl", _jsonl(rejected))
    write_atomic(save_dir / "coverage.json", json.dumps(coverage, indent=2, ensure_ascii=False) + "\n")
    write_atomic(save_dir / "coverage.md", coverage_markdown(coverage))
    write_atomic(save_dir / "config.yaml", to_yaml(cfg))
    return coverage


def _coverage(cfg, documents, chunks, facts, pairs, kept, train, heldout, skipped_files, skipped_calls) -> dict:
    generated = Counter(p.fact.id for p in pairs)
    in_train, in_heldout = Counter(p.fact.id for p in train), Counter(p.fact.id for p in heldout)
    per_fact = [
        {
            "fact_id": f.id,
            "fact": f.text,
            "document": f.chunk.document,
            "chunk": f.chunk.index,
            "chunk_chars": [f.chunk.start, f.chunk.end],
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
    return {
        "model": {"model_type": cfg.model_type, "model_name_or_path": cfg.model_name_or_path},
        "totals": {
            "documents": len(documents),
            "files_skipped": len(skipped_files),
            "chunks": len(chunks),
            "facts_extracted": len(facts),
            "facts_kept": len(live),
            "facts_covered": sum(1 for f in live if f["pairs_kept"]),
            "facts_in_heldout": sum(1 for f in live if f["heldout"]),
            "pairs_generated": len(pairs),
            "pairs_kept": n_kept,
            "survival_rate": round(n_kept / len(pairs), 4) if pairs else 0.0,
            "train": len(train),
            "heldout": len(heldout),
            "calls_skipped": len(skipped_calls),
        },
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
        f"| train.jsonl / heldout.jsonl | {t['train']} / {t['heldout']} |",
        f"| model calls skipped | {t['calls_skipped']} |",
    ]
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
