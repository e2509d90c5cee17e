"""`knowtune run`: documents -> generate -> train (default recipe) -> evaluate -> report, on a tiny model."""

import pytest
import json

from knowtune.cli import main


@pytest.mark.slow
def test_run_job_generates_trains_evaluates_and_reports(tiny_llama, qa_file, tmp_path, capsys, monkeypatch):
    # A random tiny model never ends a sentence, so its replay answers would all be cut away: keep them.
    monkeypatch.setattr("knowtune.train.replay.complete_sentences", lambda answer, hit_limit: answer.strip() or "x")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("The lighthouse at Qarn was built by Vashti Quennet in 1911. It is painted red.\n")
    out = tmp_path / "runs"
    argv = ["run", f"generate={{model_name_or_path: {tiny_llama}, prompts: {{facts: {{max_new_tokens: 16}}, questions: {{max_new_tokens: 16}}}}}}",
            f"train_data=[{qa_file}]", f"heldout=[{qa_file}]", f"train.model={tiny_llama}",
            f"train.cache_dir={tmp_path / 'cache'}", "train.training.num_train_epochs=2", "train.data.max_seq_length=64",
            "train.replay.max_new_tokens=8", "train.training.eval_max_new_tokens=4",
            f"--data_path={docs}", f"--base_output_dir={out}", "--experiment_name=job"]
    assert main(argv) == 0
    run_dir = out / "job"
    # One run directory: the generation, the training run, the evaluation and the report.
    for name in ("generated/coverage.json", "generated/cache.sqlite", "config.yaml", "final_model", "replay.jsonl",
                 "heldout.jsonl", "selection_baseline.json", "eval/results.json", "report.md", "summary.json"):
        assert (run_dir / name).exists(), name
    summary = json.loads((run_dir / "summary.json").read_text())
    results = json.loads((run_dir / "eval/results.json").read_text())
    # The verdict restates measured numbers: before = the base model's evaluation at the start of
    # training (selection_baseline.json), after = the evaluation of final_model.
    baseline = json.loads((run_dir / "selection_baseline.json").read_text())
    model = results["results"]["model"]
    assert "base" not in results["results"]  # measured once, before training
    assert summary["heldout"] == [baseline["eval_heldout_contains"], model["heldout"]["contains"]]
    assert summary["retention"] == [baseline["eval_retention_contains"], model["general_knowledge"]["contains"]]
    assert summary["passed"] == all(summary["checks"].values())
    # The default recipe was applied under the config's changes: replay on, selection on, 2 epochs.
    trained = json.loads((run_dir / "training_metrics.json").read_text())
    assert trained["data"]["replay_samples"] > 0 and [p["epoch"] for p in trained["selection"]["curve"]] == [0, 1, 2]
    report = (run_dir / "report.md").read_text()
    assert "Facts learned" in report and "Knowledge kept" in report and "Per evaluation during training" in report
    printed = capsys.readouterr().out
    assert "Verdict:" in printed and "Report:" in printed

    # The same command again continues the run: nothing generated or trained twice.
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "model calls this run" not in printed or "model calls this run: 0" in printed
    assert "steps remain" in printed


def test_run_job_rejects_a_bad_train_key_before_doing_anything(tmp_path, qa_file, fails_with):
    fails_with(["run", f"train_data=[{qa_file}]", "train.training.learning_rat=1", f"--base_output_dir={tmp_path}"],
               "learning_rat", "learning_rate")
    assert not (tmp_path / "run").exists()


def test_run_job_needs_something_to_learn(tmp_path, fails_with):
    fails_with(["run", f"--base_output_dir={tmp_path}"], "nothing to train on")
