"""`knowtune generate` on the hf backend with a tiny random model, and its CLI.

A random model writes nonsense: the run must still finish, write valid (here empty) outputs and
a report that says what was skipped, and a second run must come entirely from the cache.
"""

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from knowtune.cli import main
from knowtune.config import load_config
from knowtune.models.generate import generate_answers
from knowtune.synth.backends import HFBackend
from knowtune.synth.config import GenerateConfig
from knowtune.synth.run import run

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "examples" / "demo" / "corpus"
# The model's own facts and questions (seed 002's way), which a tiny random model cannot give.
FAST = ["fact_source=model", "question_source=model", "chunk_size_by_token=400", "prompts.facts.max_new_tokens=8", "prompts.questions.max_new_tokens=4",
        "prompts.answer.max_new_tokens=4", "max_attempts=2"]


@pytest.mark.slow
def test_hf_backend_yields_every_reply_at_its_index(tiny_llama):
    backend = HFBackend(str(tiny_llama), batch_size=2, temperature=0.0)
    conversations = [[{"role": "user", "content": text}] for text in ["hello", "What is the capital of France?", "Zorblat"]]
    replies = dict(backend.generate(conversations, max_new_tokens=6))
    expected = generate_answers(backend.model, backend.tokenizer, conversations, batch_size=1, max_new_tokens=6)
    assert [replies[i] for i in range(3)] == expected


@pytest.mark.slow
def test_a_nonsense_model_still_gives_valid_outputs_and_a_rerun_comes_from_the_cache(tiny_llama, tmp_path):
    overrides = [f"data_path={CORPUS}", f"model_name_or_path={tiny_llama}", f"save_dir={tmp_path}", *FAST]
    first = run(load_config(GenerateConfig, None, overrides))
    assert first.model_calls > 0
    totals = first.coverage["totals"]
    assert totals["documents"] == 3 and totals["chunks"] >= 3
    assert totals["calls_skipped"] == len(first.coverage["skipped_calls"]) > 0
    assert all(s["reason"].startswith("nothing usable in the reply") for s in first.coverage["skipped_calls"])
    for name in ("train.jsonl", "heldout.jsonl", "rejected.jsonl"):
        for line in (tmp_path / name).read_text().splitlines():
            assert {"question", "answer", "fact_id", "document", "chunk", "persona"} <= set(json.loads(line))
    assert json.loads((tmp_path / "coverage.json").read_text())["totals"] == totals
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["model_name_or_path"] == str(tiny_llama)
    files = {name: (tmp_path / name).read_text() for name in ("train.jsonl", "heldout.jsonl", "coverage.json")}

    second = run(load_config(GenerateConfig, None, overrides))
    assert second.model_calls == 0
    assert {name: (tmp_path / name).read_text() for name in files} == files
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporary files behind


@pytest.mark.slow
def test_seed_flags_set_the_config_and_an_empty_result_exits_2(tiny_llama, tmp_path, capsys):
    argv = ["generate", "--data_path", str(CORPUS), "--file_type", "md", "--model_name_or_path", str(tiny_llama),
            "--model_type", "hf", "--chunk_size_by_token", "400", "--qa_amount_per_fact", "3",
            "--role_amount_per_fact", "1", "--save_dir", str(tmp_path / "out"), *FAST[:2], *FAST[3:]]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "no Q&A pair survived curation" in captured.err and "coverage.md" in captured.err
    assert "0 of 0 pairs survived curation" in captured.out
    cfg = yaml.safe_load((tmp_path / "out" / "config.yaml").read_text())
    assert cfg["data_path"] == [str(CORPUS)] and cfg["file_type"] == ["md"] and cfg["model_type"] == "hf"
    assert cfg["chunk_size_by_token"] == 400 and cfg["qa_amount_per_fact"] == 3 and cfg["role_amount_per_fact"] == 1


def one_line_error(capsys, argv, *fragments):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, err


def test_input_mistakes_are_one_line_errors(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_error(capsys, ["generate", "--data_path", str(empty)], str(empty), "folder has no")
    one_line_error(capsys, ["generate", f"data_path={empty}", "qa_per_fact=2"], "unknown key 'qa_per_fact'")
    one_line_error(capsys, ["generate", "--data_path", str(empty), "--save_dir", "datasets/qa_pairs.jsonl"],
                   "save_dir: is a folder")


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")
def test_vllm_backend_without_vllm_names_the_extra(tiny_llama, tmp_path, capsys):
    one_line_error(capsys, ["generate", "--data_path", str(CORPUS), "--model_type", "vllm", "--save_dir", str(tmp_path),
                            f"tokenizer={tiny_llama}"], "pip install 'knowtune[vllm]'")
