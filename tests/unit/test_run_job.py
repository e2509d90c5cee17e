"""`knowtune run`: documents -> generate -> train (default recipe) -> evaluate -> report, on a tiny model."""

import pytest
import json

import yaml

from knowtune.cli import main
from tests.conftest import write_jsonl


@pytest.mark.slow
def test_run_job_generates_trains_evaluates_and_reports(tiny_llama, qa_file, tmp_path, capsys, monkeypatch):
    # A random tiny model never ends a sentence, so its replay answers would all be cut away: keep them.
    monkeypatch.setattr("knowtune.train.replay.complete_sentences", lambda answer, hit_limit: answer.strip() or "x")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("The Qarn lighthouse was built by Vashti Quennet in 1911. It is painted red.\n"
                               "The Qarn lighthouse keeper is Ivo Marrant.\n")
    out = tmp_path / "runs"
    argv = ["run", f"generate={{model_name_or_path: {tiny_llama}}}", f"heldout=[{qa_file}]", f"train.model={tiny_llama}",
            f"train.cache_dir={tmp_path / 'cache'}", "train.training.num_train_epochs=2", "train.data.max_seq_length=64",
            "train.replay.max_new_tokens=8", "train.training.eval_max_new_tokens=4",
            f"--data_path={docs}", f"--base_output_dir={out}", "--experiment_name=job"]
    assert main(argv) == 0
    run_dir = out / "job"
    # One run directory: the generation, the training run, the evaluation and the report.
    for name in ("generated/coverage.json", "generated/chunks.jsonl", "config.yaml", "final_model", "replay.jsonl",
                 "dev.jsonl", "test.jsonl", "selection_baseline.json", "eval/results.json", "report.md", "summary.json"):
        assert (run_dir / name).exists(), name
    # From the documents alone: the generated pairs are the training data.
    assert json.loads((run_dir / "generated/coverage.json").read_text())["totals"]["train"] >= 8
    # The user's questions are the test, only graded; the generated held-out questions chose the checkpoint.
    dev = [json.loads(line) for line in (run_dir / "dev.jsonl").read_text().splitlines()]
    test = [json.loads(line) for line in (run_dir / "test.jsonl").read_text().splitlines()]
    assert {r["source"] for r in test} == {str(qa_file)} and all("generated" in r["source"] for r in dev)
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["heldout"] == str(run_dir / "dev.jsonl")
    summary = json.loads((run_dir / "summary.json").read_text())
    results = json.loads((run_dir / "eval/results.json").read_text())
    # The verdict restates measured numbers: base and final_model evaluated on the same test questions and
    # the whole retention suite (selection asked its first 36), paired per question.
    base, model = results["results"]["base"], results["results"]["model"]
    assert summary["graded"] == "test"
    assert summary["heldout"] == [base["test"]["contains"], model["test"]["contains"]]
    assert summary["retention"] == [base["general_knowledge"]["contains"], model["general_knowledge"]["contains"]]
    assert base["general_knowledge"]["n"] >= 300 and set(results["question_sets"]["general_knowledge"]) >= {"mcnemar", "tuned"}
    # The test questions asked four ways, retrieval over the documents' chunks.
    assert set(summary["question_sets"]["test"]) >= {"base", "base_retrieval", "tuned", "tuned_retrieval", "ship"}
    assert summary["passed"] == all(summary["checks"].values())
    # The default recipe was applied under the config's changes: replay on, selection on, 2 epochs.
    trained = json.loads((run_dir / "training_metrics.json").read_text())
    assert trained["data"]["replay_samples"] > 0 and [p["epoch"] for p in trained["selection"]["curve"]] == [0, 1, 2]
    report = (run_dir / "report.md").read_text()
    assert "Facts learned (test questions, never used for selection)" in report and "Knowledge kept" in report
    assert "dev (`dev.jsonl`, chose the checkpoint)" in report and "Per evaluation during training" in report
    assert "Ship:" in report and "| base model + retrieval |" in report
    printed = capsys.readouterr().out
    assert "Verdict:" in printed and "Report:" in printed
    # Selection's retention tolerance is the verdict's, on the share of the suite the base model answers: those
    # answers were asked before training, and the evaluation read them back.
    from knowtune.experiments.job import selection_tolerance

    basis = summary["selection_tolerance"]
    assert basis["base_share"] == base["general_knowledge"]["contains"]
    assert trained["selection"]["tolerance"] == pytest.approx(selection_tolerance(1 / 12, basis["base_share"]))
    assert "[base] general_knowledge: the answers of an earlier evaluation" in printed

    # The same command again continues the run: nothing generated or trained twice.
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "model calls this run" not in printed or "model calls this run: 0" in printed
    assert "steps remain" in printed


def test_without_user_questions_the_generated_ones_split_into_dev_and_test(tmp_path):
    from knowtune.experiments.job import _question_sets

    generated = tmp_path / "heldout.jsonl"
    generated.write_text("".join(json.dumps({"question": f"Q{i}?", "answer": "a", "split": part}) + "\n"
                                 for i, part in enumerate(["dev", "test", "dev", "test", "dev"])))
    dev, test = _question_sets(tmp_path, generated, [])
    read = lambda path: [json.loads(line)["question"] for line in open(path)]  # noqa: E731
    assert read(dev) == ["Q0?", "Q2?", "Q4?"] and read(test) == ["Q1?", "Q3?"]
    user = tmp_path / "mine.jsonl"
    user.write_text(json.dumps({"question": "Mine?", "answer": "b"}) + "\n"
                    + json.dumps({"question": "Also mine?", "answers": ["c", "see"]}) + "\n")
    dev, test = _question_sets(tmp_path, generated, [str(user)])
    assert len(read(dev)) == 5 and read(test) == ["Mine?", "Also mine?"]  # the user's grade; all generated ones choose
    assert [json.loads(line)["answers"] for line in open(test)] == [["b"], ["c", "see"]]  # every accepted answer kept


def test_with_user_questions_one_generated_question_a_fact_is_held_out(tmp_path, qa_file):
    from knowtune.experiments.job import RunConfig

    docs = str(tmp_path)
    assert RunConfig(data_path=[docs], generate={}).generate_config().heldout_per_fact == 2  # dev and test
    assert RunConfig(data_path=[docs], generate={}, heldout=[str(qa_file)]).generate_config().heldout_per_fact == 1
    assert RunConfig(data_path=[docs], generate={"heldout_per_fact": 3},
                     heldout=[str(qa_file)]).generate_config().heldout_per_fact == 3  # the user's choice stands


def test_run_job_rejects_a_bad_train_key_before_doing_anything(tmp_path, qa_file, fails_with):
    fails_with(["run", f"train_data=[{qa_file}]", "train.training.learning_rat=1", f"--base_output_dir={tmp_path}"],
               "learning_rat", "learning_rate")
    assert not (tmp_path / "run").exists()


def test_run_job_needs_something_to_learn(tmp_path, fails_with):
    fails_with(["run", f"--base_output_dir={tmp_path}"], "nothing to train on")


def test_run_job_checks_the_test_questions_before_generating(tmp_path, fails_with):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("Vellmoor was founded by Odrin Kestavel in 1612.\n", encoding="utf-8")
    questions = write_jsonl(tmp_path / "q.jsonl", [{"question": "Who founded Vellmoor?", "answer": "Odrin Kestavel"},
                                                    {"question": "When?"}])
    fails_with(["run", f"--data_path={docs}", f"heldout={questions}", f"--base_output_dir={tmp_path / 'runs'}"],
               f"{questions}:2:", "answer")
    assert not (tmp_path / "runs").exists()


def test_selection_reads_the_base_suite_answers_only_where_it_asks_as_the_suite_was_asked(tmp_path):
    from knowtune.experiments.job import RunConfig, _asked_alike

    train = tmp_path / "t.jsonl"
    write_jsonl(train, [{"question": "q", "answer": "a"}])

    def train_cfg(*train_keys):
        cfg = RunConfig.model_validate({"train_data": [str(train)], "train": dict(train_keys)})
        return cfg.train_config([str(train)], str(train))

    assert _asked_alike(train_cfg())
    assert not _asked_alike(train_cfg(("data", {"system_prompt": "Answer briefly."})))
    assert not _asked_alike(train_cfg(("training", {"eval_max_new_tokens": 32})))
