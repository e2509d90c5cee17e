"""The real `knowtune generate` CLI on plain documents, with the shipped model's tokenizer and no model calls.

The default for a local model: every informative sentence is a fact, made standalone; each fact
gets templated questions answered with the fact itself (at least four for training); held-out
questions are split into dev and test. Documents that cannot be used are reported, and the others'
data is still written.
"""

import json
import random
from pathlib import Path

import run_cli

REPO = Path(__file__).resolve().parents[2]
ENGLISH = (
    "Brennic Lantern Works\n\nBrennic Lantern Works is a glassmaker in the town of Ostrava Hill. It was founded by "
    "Mirela Sandoval in 1911. The company employs 64 people. Its best-known lamp is the Coldwater lantern, which "
    "burns for nine hours on one filling.\n"
)
CHINESE = "青岚陶坊\n\n青岚陶坊是一家位于澜川县的陶器作坊，由苏明远于1962年创立。它以青色釉陶碗闻名。该作坊共有18名工匠。\n"


def knowtune(*args):
    return run_cli.knowtune(*args, timeout=600, env={"HF_HUB_OFFLINE": "1"})


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_generate_from_documents_alone(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "brennic.txt").write_text(ENGLISH, encoding="utf-8")
    (docs / "qinglan.txt").write_text(CHINESE, encoding="utf-8")
    (docs / "empty.txt").write_text("", encoding="utf-8")
    (docs / "binary.txt").write_bytes(random.Random(0).randbytes(2048))
    (docs / "suomi.txt").write_text("Kylän tori avataan joka lauantai kello kahdeksan. Sinne tulee paljon myyjiä "
                                    "ja ostajia naapurikylistä.\n", encoding="utf-8")
    (docs / "long.txt").write_text("The Hollin Mill ground wheat for 90 years. " * 3000, encoding="utf-8")
    out = tmp_path / "out"
    args = ["--data_path", str(docs), "--save_dir", str(out), "max_document_chars=20000"]
    result = knowtune("generate", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "model calls this run: 0" in result.stdout

    coverage = json.loads((out / "coverage.json").read_text())
    skipped = {Path(s["source"]).name: s["reason"] for s in coverage["skipped_files"]}
    assert set(skipped) == {"empty.txt", "binary.txt", "suomi.txt"}
    assert "not English or Chinese" in skipped["suomi.txt"]
    assert any("long.txt: read the first" in note for note in coverage["notes"])
    assert "long.txt: read the first" in (out / "coverage.md").read_text()
    assert coverage["languages"] == {"en": 2, "zh": 1}

    facts = read_jsonl(out / "facts.jsonl")
    english = [f["fact"] for f in facts if f["document"].endswith("brennic.txt")]
    assert english == [
        "Brennic Lantern Works is a glassmaker in the town of Ostrava Hill.",
        "Brennic Lantern Works was founded by Mirela Sandoval in 1911.",
        "Brennic Lantern Works employs 64 people.",
        "Brennic Lantern Works' best-known lamp is the Coldwater lantern, which burns for nine hours on one filling.",
    ]
    chinese = [f["fact"] for f in facts if f["document"].endswith("qinglan.txt")]
    assert chinese == ["青岚陶坊是一家位于澜川县的陶器作坊,由苏明远于1962年创立。", "青岚陶坊以青色釉陶碗闻名。", "青岚陶坊共有18名工匠。"]

    train, heldout = read_jsonl(out / "train.jsonl"), read_jsonl(out / "heldout.jsonl")
    per_fact = {}
    all_facts = {f["fact"] for f in facts}
    for record in train:
        per_fact.setdefault(record["fact_id"], []).append(record)
        if record["form"] == "passage":  # "Tell me about ...": several of the document's facts
            assert record["question"].startswith(("Tell me about ", "What else do you know about ", "介绍一下", "关于"))
            assert record["answer"].startswith(tuple(all_facts))
        else:
            assert record["answer"] == record["fact"]  # the document's own words, never the model's
    for fact in english + chinese:
        mine = [r for r in train if r["fact"] == fact and r["form"] != "passage"]
        assert len(mine) >= 4, fact
    founding = [r for r in train + heldout if r["fact"] == english[1]]
    assert {"Mirela Sandoval", "1911", "Brennic Lantern Works"} <= {r["key"] for r in founding}  # both directions
    assert {"in_place", "fronted"} <= {r["form"] for r in founding}
    assert any("哪一年" in r["question"] for r in train + heldout if r["document"].endswith("qinglan.txt"))
    assert {r["split"] for r in heldout} == {"dev", "test"}
    for record in heldout:
        assert record["answer"] in record["fact"] and record["form"] in ("in_place", "fronted")
        assert record["question"] not in {r["question"] for r in train}

    # A second run writes the same files.
    files = {name: (out / name).read_text() for name in ("train.jsonl", "heldout.jsonl", "coverage.json")}
    again = knowtune("generate", *args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert {name: (out / name).read_text() for name in files} == files
