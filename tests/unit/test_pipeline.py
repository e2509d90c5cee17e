"""`knowtune pipeline`: every dataset trained from the base model in turn; a broken one is reported, the rest go on."""

import pytest
import json

import yaml

from knowtune.cli import main
from knowtune.train.state import read_state


@pytest.mark.slow
def test_pipeline_reports_a_broken_dataset_and_continues(tmp_path, qa_file, tiny_llama):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"question": "a", "answer": "b"}\n{"question": "c", "answer": \n')
    pipeline = {
        "base": {"model": str(tiny_llama), "data": {"train": "unused.jsonl", "max_seq_length": 64},
                 "training": {"max_steps": 2, "learning_rate": 1e-2, "save_total_limit": 1}},
        "datasets": [
            {"name": "first", "train": str(qa_file), "heldout": str(qa_file)},
            str(broken),
            {"name": "third", "train": str(qa_file), "evaluate": [f"{qa_file}:qa"]},
        ],
        "base_output_dir": str(tmp_path / "runs"),
    }
    path = tmp_path / "seed001.yaml"
    path.write_text(yaml.safe_dump(pipeline, sort_keys=False))
    assert main(["pipeline", str(path)]) == 1  # one dataset failed
    root = tmp_path / "runs" / "seed001"
    summary = json.loads((root / "summary.json").read_text())
    rows = {r["dataset"]: r for r in summary["datasets"]}
    assert list(rows) == ["first", "broken", "third"] and summary["failed"] == 1
    assert rows["broken"]["state"] == "failed" and "broken.jsonl:2" in rows["broken"]["error"]
    for name in ("first", "third"):
        assert rows[name]["state"] == "finished" and rows[name]["train_loss"] > 0
        assert (root / name / "final_model" / "adapter_config.json").is_file()
        assert read_state(root / name)["state"] == "finished"
        # each dataset starts from the base model, not from the previous dataset's result
        assert yaml.safe_load((root / name / "config.yaml").read_text())["model"] == str(tiny_llama)
        assert json.loads((root / name / "training_metrics.json").read_text())["global_step"] == 2
    assert rows["first"]["heldout_before"] is not None and rows["first"]["heldout_after"] is not None
    assert set(rows["third"]["eval"]["qa"]) == {"exact_match", "f1", "contains"}
    assert (root / "third" / "eval" / "results.json").is_file()
    report = (root / "summary.md").read_text()
    table = [line for line in report.splitlines() if line.startswith("| ") and "dataset" not in line]
    assert [line.split("|")[1].strip() for line in table] == ["first", "broken", "third"]
    assert "broken.jsonl:2" in report


def test_pipeline_config_mistakes(tmp_path, qa_file, fails_with):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"base": {"data": {"train": "x"}}, "datasets": [str(qa_file), str(qa_file)]}))
    fails_with(["pipeline", str(path)], "p.yaml", "two datasets are named 'qa'")
    path.write_text(yaml.safe_dump({"base": {"data": {"train": "x"}}, "datasets": [{"train": str(qa_file), "heldot": "h"}]}))
    fails_with(["pipeline", str(path)], "unknown key 'datasets.0.heldot'")
