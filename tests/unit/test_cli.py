"""The CLI: user mistakes give one line and exit code 2; seed-script flags keep working."""

import subprocess
import sys

import pytest
import yaml

from knowtune.cli import main




def test_malformed_jsonl_names_file_and_line(tiny_llama, tmp_path, fails_with):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "a", "answer": "b"}\n{"question": "c", "answer": \n')
    fails_with(["train", f"model={tiny_llama}", f"data.train={bad}", f"base_output_dir={tmp_path}"],
               "bad.jsonl:2")
    assert not (tmp_path / "run").exists()  # nothing half-written


def test_missing_field_names_field_and_line(tiny_llama, tmp_path, fails_with):
    bad = tmp_path / "qa.jsonl"
    bad.write_text('{"question": "a", "answer": "b"}\n{"question": "c"}\n')
    fails_with(["train", f"model={tiny_llama}", f"data.train={bad}"], "qa.jsonl:2", "answer")


def test_empty_and_unknown_shape(tiny_llama, tmp_path, fails_with):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    fails_with(["train", f"model={tiny_llama}", f"data.train={empty}"], "empty.jsonl")
    odd = tmp_path / "odd.jsonl"
    odd.write_text('{"foo": 1, "bar": 2}\n')
    fails_with(["train", f"model={tiny_llama}", f"data.train={odd}"], "odd.jsonl:1", "foo")


def test_missing_model_and_unknown_key(tmp_path, qa_file, fails_with):
    fails_with(["train", f"model={tmp_path / 'nope'}", f"data.train={qa_file}"], "nope", "not found")
    fails_with(["train", f"data.train={qa_file}", "training.lr=1"], "unknown key 'training.lr'")
    fails_with(["train", str(tmp_path / "missing.yaml")], "missing.yaml does not exist")


def test_qlora_without_gpu_is_a_clear_error(tiny_llama, qa_file, tmp_path, fails_with):
    if __import__("torch").cuda.is_available():
        pytest.skip("this machine has a GPU")
    fails_with(["train", f"model={tiny_llama}", f"data.train={qa_file}", "method=qlora",
                        f"base_output_dir={tmp_path}"], "qlora needs a CUDA GPU")


@pytest.mark.slow
def test_seed_flags_are_config_aliases(tiny_llama, qa_file, tmp_path, capsys):
    argv = ["train", "--model_name_or_path", str(tiny_llama), "--dataset_name", str(qa_file),
            "--learning_rate", "1e-3", "--per_device_train_batch_size", "2", "--gradient_accumulation_steps", "2",
            "--max_steps", "2", "--num_train_epochs", "1", "--gradient_checkpointing", "--experiment_name", "seed",
            "--base_output_dir", str(tmp_path), "--max_seq_length", "48", "--dataset_size", "8",
            "--validation_split_percentage", "25", "--save_steps", "1", "--seed", "7", "--text_column", "text",
            "--cache_dir", str(tmp_path / "cache")]
    assert main(argv) == 0
    cfg = yaml.safe_load((tmp_path / "seed" / "config.yaml").read_text())
    assert cfg["model"] == str(tiny_llama) and cfg["data"]["train"] == [str(qa_file)]
    assert cfg["training"]["learning_rate"] == 1e-3 and cfg["training"]["gradient_checkpointing"] is True
    assert cfg["training"]["per_device_train_batch_size"] == 2 and cfg["training"]["seed"] == 7
    assert cfg["data"]["max_seq_length"] == 48 and cfg["data"]["dataset_size"] == 8
    assert cfg["data"]["validation_split_percentage"] == 25 and cfg["cache_dir"] == str(tmp_path / "cache")
    assert "--learning_rate 1e-3" in (tmp_path / "seed" / "train_command.txt").read_text()


@pytest.mark.slow
def test_console_entry_point_help():
    out = subprocess.run([sys.executable, "-m", "knowtune", "train", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "training.learning_rate" in out.stdout and "--model_name_or_path" in out.stdout


def test_output_dir_of_the_seed_script_is_the_run_directory(tmp_path):
    from knowtune.cli import build_parser
    from knowtune.train.cli import seed_overrides

    args = build_parser().parse_args(["train", "--output_dir", str(tmp_path / "runs" / "exp1"), "--seed", "3"])
    assert seed_overrides(args) == ["training.seed=3", f"base_output_dir={tmp_path / 'runs'}", "experiment_name=exp1"]


def test_overrides_may_follow_flags(capsys):
    from knowtune.cli import parse

    args = parse(["run", "demo.yaml", "--overwrite", "experiment_name=x", "train.training.seed=3"])
    assert args.items == ["demo.yaml", "experiment_name=x", "train.training.seed=3"] and args.overwrite
    with pytest.raises(SystemExit) as exit_:
        parse(["run", "demo.yaml", "--no_such_flag", "experiment_name=x"])
    assert exit_.value.code == 2 and "unrecognized arguments: --no_such_flag" in capsys.readouterr().err
