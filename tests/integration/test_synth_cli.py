"""The real `knowtune generate` CLI with the shipped default model (hf backend) on one small document.

SmolLM2-135M writes poor questions; what is checked is that the pipeline turns them into a valid,
curated dataset: records with provenance, a per-fact train/held-out split, and a coverage report
that agrees with the files. One chunk and short replies keep it to about a minute on 2 CPU cores.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from knowtune.synth.prompts import PERSONAS

REPO = Path(__file__).resolve().parents[2]
TEXT = (
    "Vellmoor is a small fishing town. Vellmoor was founded by Odrin Kestavel, a salt merchant. "
    "The Vellmoor tide bell was cast in 1743.\n"
)
FIELDS = {"question", "answer", "fact", "fact_id", "document", "chunk", "persona"}


def knowtune(*args):
    return subprocess.run([sys.executable, "-m", "knowtune", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=900, env={**os.environ, "HF_HUB_OFFLINE": "1"})


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_generate_with_the_default_model(tmp_path):
    document = tmp_path / "docs" / "vellmoor.txt"
    document.parent.mkdir()
    document.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "out"
    args = ["--data_path", str(document.parent), "--save_dir", str(out), "--model_type", "hf",
            "--qa_amount_per_fact", "2", "--role_amount_per_fact", "2",
            "prompts.facts.max_new_tokens=96", "prompts.questions.max_new_tokens=24", "prompts.answer.max_new_tokens=24"]
    result = knowtune("generate", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"report: {out / 'coverage.md'}" in result.stdout

    train, heldout = read_jsonl(out / "train.jsonl"), read_jsonl(out / "heldout.jsonl")
    coverage = json.loads((out / "coverage.json").read_text())
    totals = coverage["totals"]
    assert totals["documents"] == 1 and totals["chunks"] == 1 and totals["facts_kept"] >= 2
    assert len(train) == totals["train"] >= 1 and len(heldout) == totals["heldout"] >= 1
    assert totals["pairs_kept"] == len(train) + len(heldout) < totals["pairs_generated"]
    assert totals["pairs_generated"] == totals["pairs_kept"] + sum(coverage["dropped_pairs"].values())
    assert "| pairs that survived curation |" in (out / "coverage.md").read_text()

    # Provenance: every record names its document, chunk, fact and persona.
    fact_ids = {f["fact_id"] for f in coverage["facts"]}
    for record in train + heldout:
        assert FIELDS <= set(record)
        assert record["document"] == str(document) and record["chunk"] == 0
        assert record["fact_id"] in fact_ids and record["fact_id"].startswith(f"{document}#0/f")
        assert record["persona"] in PERSONAS and record["question"].endswith("?")
    # The split: held-out facts are trained on too, with other questions; a held-out answer is the key part.
    assert {r["fact_id"] for r in heldout} <= {r["fact_id"] for r in train}
    assert not {r["question"] for r in heldout} & {r["question"] for r in train}
    for record in heldout:
        assert record["answer"] and record["answer"] in record["full_answer"]
    per_fact = {f["fact_id"]: f for f in coverage["facts"]}
    for fact_id in {r["fact_id"] for r in train + heldout}:
        assert per_fact[fact_id]["pairs_kept"] == per_fact[fact_id]["train"] + per_fact[fact_id]["heldout"]

    # A second run asks the model nothing and writes the same files.
    files = {name: (out / name).read_text() for name in ("train.jsonl", "heldout.jsonl", "coverage.json")}
    again = knowtune("generate", *args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "model calls this run: 0" in again.stdout
    assert {name: (out / name).read_text() for name in files} == files
