"""Data at scale: tokenized once and cached, the same samples on several processes, streamed text corpora."""

import json

import pytest
from pydantic import ValidationError

from knowtune.data import IGNORE_INDEX, DataConfig, build_datasets
from knowtune.errors import UserError
from tiny_models import build_tiny_tokenizer
from knowtune.train.config import TrainConfig
from knowtune.train.run import run
from tests.conftest import write_jsonl
from tests.unit.test_train import make_cfg

FACTS = [{"question": f"Who keeps lighthouse {n}?", "answer": f"Keeper {n} of the coast."} for n in range(12)]


@pytest.fixture(scope="module")
def tokenizer():
    return build_tiny_tokenizer()


def answers(tokenizer, dataset) -> set[str]:
    return {tokenizer.decode([t for t, label in zip(row["input_ids"], row["labels"]) if label != IGNORE_INDEX])
            for row in dataset}


def test_a_second_build_reads_the_cache_and_an_edited_record_is_tokenized_again(
        tmp_path, tokenizer, capsys, data_cache):
    path = write_jsonl(tmp_path / "facts.jsonl", FACTS)
    first, _, stats = build_datasets(DataConfig(train=str(path)), tokenizer)
    assert capsys.readouterr().out.count("Tokenizing 12 train records") == 1
    # The split and the cap are picked from the cached samples: no tokenizing, the same held-out records.
    train, held_out, split = build_datasets(DataConfig(train=str(path), validation_split_percentage=25), tokenizer)
    capped, capped_held_out, _ = build_datasets(
        DataConfig(train=str(path), validation_split_percentage=25, dataset_size=4), tokenizer)
    assert "Tokenizing" not in capsys.readouterr().out
    assert len(list(data_cache.iterdir())) == 1
    assert answers(tokenizer, held_out) == answers(tokenizer, capped_held_out)
    assert (split["train_samples"], split["eval_samples"], len(capped)) == (9, 3, 4)
    assert answers(tokenizer, train) | answers(tokenizer, held_out) == answers(tokenizer, first)

    edited = [*FACTS[:5], {**FACTS[5], "answer": "Keeper 5 moved inland."}, *FACTS[6:]]
    write_jsonl(path, edited)
    train, _, _ = build_datasets(DataConfig(train=str(path)), tokenizer)
    assert capsys.readouterr().out.count("Tokenizing 12 train records") == 1
    assert "Keeper 5 moved inland.<|im_end|>\n" in answers(tokenizer, train)
    assert "Keeper 5 of the coast.<|im_end|>\n" not in answers(tokenizer, train)
    build_datasets(DataConfig(train=str(path), max_seq_length=512), tokenizer)  # a setting that shapes samples
    assert capsys.readouterr().out.count("Tokenizing") == 1


def test_several_processes_make_the_same_samples_and_name_a_bad_line(tmp_path, tokenizer):
    path = write_jsonl(tmp_path / "facts.jsonl", FACTS)
    one = build_datasets(DataConfig(train=str(path), num_proc=1), tokenizer)
    two = build_datasets(DataConfig(train=str(path), num_proc=2), tokenizer)
    assert one[0].to_list() == two[0].to_list() and one[2] == two[2]

    write_jsonl(path, [*FACTS, {"question": "Who?", "answer": 3}])  # in the second process's share
    with pytest.raises(UserError, match=r"facts.jsonl:13: field 'answer' must be a string, got int"):
        build_datasets(DataConfig(train=str(path), num_proc=2), tokenizer)


def test_streaming_packs_the_tokens_of_the_unstreamed_text_blocks(tmp_path, tokenizer):
    path = tmp_path / "corpus.txt"
    lines = [f"Line {n} of a corpus about lighthouses and keepers." for n in range(200)]
    path.write_text("\n".join(lines), encoding="utf-8")
    streamed, _, stats = build_datasets(DataConfig(train=str(path), streaming=True, max_seq_length=100), tokenizer)
    blocks = [row["input_ids"] for row in streamed]
    whole, _, _ = build_datasets(DataConfig(train=str(path), max_seq_length=100), tokenizer)
    assert [t for b in blocks for t in b] == [t for row in whole for t in row["input_ids"]]
    assert {len(b) for b in blocks[:-1]} == {100} and stats["train_samples"] is None

    with pytest.raises(ValidationError, match="training.max_steps"):
        TrainConfig(model="m", data={"train": str(path), "streaming": True})
    with pytest.raises(ValidationError, match="dataset_size"):
        DataConfig(train=str(path), streaming=True, dataset_size=10)
    qa = write_jsonl(tmp_path / "qa.jsonl", FACTS)
    with pytest.raises(UserError, match=r"qa.jsonl:1: missing required field 'text'"):
        build_datasets(DataConfig(train=str(qa), streaming=True), tokenizer)


def test_a_streamed_corpus_trains_max_steps(tiny_llama, tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"text": f"Keeper {n} tends lighthouse {n} on the coast. " * 6}) + "\n"
                              for n in range(40)), encoding="utf-8")
    result = run(make_cfg(tiny_llama, corpus, tmp_path, "method=full", "data.streaming=true", "training.max_steps=3",
                          "training.per_device_train_batch_size=2"))
    assert result.metrics["global_step"] == 3 and result.metrics["data"]["streaming"]
    assert (result.run_dir / "final_model" / "model.safetensors").is_file()
