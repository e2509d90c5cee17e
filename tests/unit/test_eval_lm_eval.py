"""Issue 17: lm-evaluation-harness tasks in `knowtune eval`, with a task defined by a local YAML and data file."""

import json

import pytest

from knowtune.cli import main
from knowtune.errors import UserError
from knowtune.evaluate.lm_eval_tasks import check_names

pytest.importorskip("lm_eval", reason="lm-eval is the optional extra knowtune[lm_eval] (installed by the dev extra)")


def _task(folder, dataset_path="json", data_file=None):
    """A three-question multiple-choice task: its YAML and its data in `folder`."""
    data = folder / "capitals.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in [
        {"question": "What is the capital of France?", "choices": ["Paris", "Rome", "Oslo"], "answer": 0},
        {"question": "What is the capital of Japan?", "choices": ["Lima", "Tokyo", "Cairo"], "answer": 1},
        {"question": "What is the capital of Italy?", "choices": ["Madrid", "Berlin", "Rome"], "answer": 2},
    ]))
    yaml = folder / "capitals.yaml"
    yaml.write_text(f"""task: local_capitals
dataset_path: {dataset_path}
dataset_kwargs:
  data_files:
    test: {data_file or data}
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: answer
metric_list:
  - metric: acc
""")
    return yaml


def test_a_local_task_scores_base_and_tuned_in_the_same_table(tiny_run, tmp_path):
    yaml = _task(tmp_path)
    out = tmp_path / "eval"
    assert main(["eval", "--model_path", str(tiny_run), "--lm_eval_tasks", str(yaml), "--compare-base",
                 "--output_dir", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    for label in ("base", "model"):
        scores = results["lm_eval"][label]["local_capitals"]
        assert scores["n"] == 3 and scores["acc"] in (0, 1 / 3, 2 / 3, 1)
        assert scores["acc_ci"][0] <= scores["acc"] <= scores["acc_ci"][1]
    row = results["comparison"]["lm_eval local_capitals"]["acc"]
    assert row["base"] == results["lm_eval"]["base"]["local_capitals"]["acc"]
    report = (out / "report.md").read_text()
    assert "| lm_eval local_capitals | acc |" in report and "| lm-eval task |" in report


def test_bad_task_names_and_unreachable_data_are_one_line(tiny_run, tmp_path, fails_with):
    with pytest.raises(UserError, match="unknown task hellaswagg"):
        check_names(["local_capitals", "hellaswagg"], ["local_capitals", "hellaswag"])
    fails_with(["eval", "--model_path", str(tiny_run), "--lm_eval_tasks", str(tmp_path / "missing.yaml")],
               "missing.yaml: no such task YAML")
    # A dataset only the Hub has: no Hub here (HF_HUB_OFFLINE), so its data cannot be loaded.
    (tmp_path / "hub").mkdir()
    hub = _task(tmp_path / "hub", dataset_path="nobody-owns-this/no-such-dataset", data_file="test.jsonl")
    fails_with(["eval", "--model_path", str(tiny_run), "--lm_eval_tasks", str(hub)],
               "lm_eval_tasks local_capitals: the task data cannot be loaded here")
