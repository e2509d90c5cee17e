"""Hostile and broken input that no other test covers (the full list, with every test: docs/robustness.md)."""

import errno
import json
import logging
import os
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from knowtune.data import DataConfig, build_datasets
from knowtune.errors import UserError
from knowtune.fileio import write_atomic, write_json
from knowtune.models import CHATML_TEMPLATE, model_config
from tiny_models import build_tiny_tokenizer
from knowtune.train.checkpoints import MARKER, last_complete, mark_complete, problem

REPO = Path(__file__).resolve().parents[2]
QA = {"question": "What is the capital of France?", "answer": "Paris."}


@pytest.fixture(scope="module")
def tokenizer():
    return build_tiny_tokenizer()


def test_a_100_mb_single_line_is_cut_counted_and_cheap(tmp_path, tokenizer):
    path = tmp_path / "train.jsonl"
    huge = "lorem ipsum dolor " * (100_000_000 // 18)
    path.write_text(json.dumps(QA) + "\n" + json.dumps({"question": huge, "answer": "a"}) + "\n", encoding="utf-8")
    train, _, stats = build_datasets(DataConfig(train=str(path), max_seq_length=64), tokenizer)
    # Its answer lies 100 MB past max_seq_length: the record is truncated, then dropped as having nothing to learn.
    assert (stats["train_records"], stats["truncated"], stats["dropped_no_trainable_tokens"]) == (2, 1, 1)
    assert len(train) == 1 and max(len(ids) for ids in train["input_ids"]) <= 64


def test_a_long_answer_is_cut_exactly_as_without_the_character_limit(tmp_path, tokenizer):
    from knowtune.data import to_messages, tokenize_chat
    from knowtune.data.tokenize import MAX_CHARS_PER_TOKEN

    answer = "word " * (64 * MAX_CHARS_PER_TOKEN)  # longer than the character limit
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps({"question": "q?", "answer": answer}) + "\n", encoding="utf-8")
    train, _, stats = build_datasets(DataConfig(train=str(path), max_seq_length=64), tokenizer)
    messages = to_messages({"question": "q?", "answer": answer}, "qa", DataConfig(train=str(path)))
    full_ids, full_labels = tokenize_chat(messages, tokenizer)  # the whole answer, 25,000 tokens
    assert stats["truncated"] == 1
    assert train["input_ids"][0] == full_ids[:64] and train["labels"][0] == full_labels[:64]


@pytest.mark.parametrize(
    "messages, strict, expected",
    [
        ([{"role": "assistant", "content": "a"}, {"role": "user", "content": "q"}, {"role": "assistant", "content": "b"}],
         False, "field 'messages' starts with an assistant turn; put a user turn before it"),
        ([{"role": "user", "content": "q"}, {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a"}],
         True, "the chat template cannot render this conversation: roles must alternate"),
    ],
)
def test_chat_roles_out_of_order_name_the_line(tmp_path, messages, strict, expected):
    # A template that, like Llama 2's or Mistral's, insists on alternating user/assistant turns.
    strict_template = (
        "{% for m in messages %}{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('roles must alternate') }}{% endif %}"
        "<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    tokenizer = build_tiny_tokenizer()
    tokenizer.chat_template = strict_template if strict else CHATML_TEMPLATE
    path = tmp_path / "chat.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})
                    + "\n" + json.dumps({"messages": messages}) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match=re.escape(f"{path}:2") + ".*" + re.escape(expected)):
        build_datasets(DataConfig(train=str(path)), tokenizer)


def test_a_full_disk_keeps_the_previous_file_and_leaves_no_partial_one(tmp_path, monkeypatch, fails_with):
    target = tmp_path / "results.json"
    write_json(target, {"version": 1})

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("knowtune.fileio.os.fsync", full)  # the bytes did not all reach the disk
    with pytest.raises(UserError, match=r"results\.json: No space left on device \(the previous version is kept\)"):
        write_json(target, {"version": 2, "big": "x" * 100_000})
    assert json.loads(target.read_text()) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temporary file left behind
    with pytest.raises(UserError, match="nothing was written"):
        write_atomic(tmp_path / "new.jsonl", "{}\n")
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_outputs_cannot_escape_base_output_dir_and_an_unusable_one_is_named(tiny_llama, qa_file, tmp_path, fails_with):
    for name in ("../elsewhere", "a/b", ".."):
        fails_with(["train", f"model={tiny_llama}", f"data.train={qa_file}", f"base_output_dir={tmp_path}",
                    f"experiment_name={name}"], "experiment_name", "plain directory name")
    assert not (tmp_path.parent / "elsewhere").exists()
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the output directory should be")
    fails_with(["train", f"model={tiny_llama}", f"data.train={qa_file}", f"base_output_dir={blocker}",
                "training.max_steps=1"], f"cannot create the run directory {blocker / 'run'}", "check base_output_dir")


def fake_checkpoint(folder: Path, step: int, marked: bool = True) -> Path:
    folder.mkdir(parents=True)
    save_file({"lora_A": torch.ones(4, 4)}, str(folder / "adapter_model.safetensors"))
    (folder / "optimizer.pt").write_bytes(b"x" * 100)
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    if marked:
        mark_complete(folder, step)
    return folder


def test_resume_skips_partial_and_corrupt_checkpoints_for_the_previous_one(tmp_path, capsys):
    root = tmp_path / "checkpoints"
    good = fake_checkpoint(root / "checkpoint-2", 2)
    truncated = fake_checkpoint(root / "checkpoint-4", 4)
    data = (truncated / "adapter_model.safetensors").read_bytes()
    (truncated / "adapter_model.safetensors").write_bytes(data[: len(data) // 2])
    no_weights = fake_checkpoint(root / "checkpoint-6", 6)
    (no_weights / "adapter_model.safetensors").unlink()
    bad_state = fake_checkpoint(root / "checkpoint-8", 8)
    (bad_state / "trainer_state.json").write_text('{"global_step": 8, "log_hi')
    unmarked = fake_checkpoint(root / "checkpoint-10", 10, marked=False)
    assert last_complete(root) == good
    err = capsys.readouterr().err
    assert f"skipping checkpoint {unmarked}: no {MARKER}: the save did not finish" in err
    assert f"skipping checkpoint {bad_state}: trainer_state.json has" in err
    assert f"skipping checkpoint {no_weights}: adapter_model.safetensors is missing" in err
    assert f"skipping checkpoint {truncated}: adapter_model.safetensors has" in err
    assert str(good) not in err


def test_checkpoints_from_before_the_marker_count_when_they_look_complete(tmp_path):
    root = tmp_path / "checkpoints"
    old = fake_checkpoint(root / "checkpoint-2", 2, marked=False)
    newer = fake_checkpoint(root / "checkpoint-4", 4, marked=False)
    assert last_complete(root) == newer
    (newer / "trainer_state.json").unlink()  # cut short before the Trainer's last file
    assert problem(newer, marked_run=False) == "no trainer_state.json: the save did not finish"
    assert last_complete(root) == old
    (old / "adapter_model.safetensors").write_bytes(b"\x00" * 5)
    assert problem(old, marked_run=False).startswith("adapter_model.safetensors: ")
    assert last_complete(root) is None


def test_resume_from_a_broken_checkpoint_path_is_refused(tiny_llama, qa_file, tmp_path, fails_with):
    broken = fake_checkpoint(tmp_path / "t" / "checkpoints" / "checkpoint-3", 3, marked=False)
    fake_checkpoint(tmp_path / "t" / "checkpoints" / "checkpoint-1", 1)
    fails_with(["train", f"model={tiny_llama}", f"data.train={qa_file}", f"base_output_dir={tmp_path}",
                "experiment_name=t", f"resume={broken}"], f"resume={broken}: not a complete checkpoint (no {MARKER}")


def test_trust_remote_code_is_off_by_default_and_logged_when_on(tiny_llama, caplog):
    from knowtune.train.config import TrainConfig

    assert TrainConfig.model_fields["trust_remote_code"].default is False
    with caplog.at_level(logging.WARNING, logger="knowtune"):
        model_config(str(tiny_llama))
        assert "trust_remote_code" not in caplog.text
        model_config(str(tiny_llama), trust_remote_code=True)
    assert f"trust_remote_code is on: Python code shipped with {tiny_llama} may run" in caplog.text


def test_no_pickle_loading_in_the_source():
    """Weights come from safetensors; a torch.load must refuse pickled code (weights_only=True)."""
    for path in (REPO / "src" / "knowtune").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for call in re.finditer(r"torch\.load\(([^)]*)\)", text):
            assert "weights_only=True" in call.group(1), f"{path}: {call.group(0)}"
        assert not re.search(r"^\s*(import pickle|from pickle|import dill)", text, re.M), path
        assert "trust_remote_code=True" not in text, f"{path} turns trust_remote_code on by itself"
        assert "safe_serialization=False" not in text, path
