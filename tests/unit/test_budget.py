"""`knowtune budget` (average wall time of N runs against a budget) and the early projection of any run."""

import json
from types import SimpleNamespace

import pytest

from knowtune.cli import main
from knowtune.experiments.budget import average_verdict
from knowtune.train import projection
from knowtune.train.projection import BudgetProjection, projection_message


def test_projection_message_and_average_verdict():
    assert projection_message(7800, 1200, 8) == "projected total 2h10m for 1200 steps: fits the 8h budget"
    assert projection_message(9 * 3600 + 300, 10, 8) == "projected total 9h05m for 10 steps: exceeds the 8h budget by 1h05m"
    assert projection_message(75, 10, None) == "projected total 1m15s for 10 steps"
    assert average_verdict([7 * 3600, 9 * 3600 + 1], 8, 0) == (False, "average 8h00m over 2 runs (28800.5 s) vs the 8h budget: FAIL")
    assert average_verdict([3600, 7200], 8, 0)[0] is True
    assert average_verdict([3600], 8, 1) == (False, "average 1h00m over 1 runs (3600.0 s) vs the 8h budget: FAIL (1 run failed)")


def test_projection_uses_pace_after_the_warm_up_step(monkeypatch, capsys):
    """A 30 s first step, then 10 s per step, 1000 steps: 30 + 999 * 10 s in total, printed at step 5."""
    clock = iter([0.0, 30.0, 40.0, 50.0, 60.0, 70.0])
    monkeypatch.setattr(projection.time, "monotonic", lambda: next(clock))
    callback = BudgetProjection(budget_hours=2.5, after_steps=5)
    state = SimpleNamespace(global_step=0, max_steps=1000, is_world_process_zero=True)
    callback.on_train_begin(None, state, None)
    printed = []
    for step in range(1, 6):
        state.global_step = step
        callback.on_step_end(None, state, None)
        printed.append(capsys.readouterr().out)
    assert printed[:4] == [""] * 4  # nothing before step 5
    # 70 s so far + 995 steps left at 10 s = 10020 s = 30 + 999 * 10
    assert printed[4] == ("projected total 2h47m for 1000 steps: exceeds the 2.5h budget by 17m00s "
                          "(10.00 s per step after 5 steps)\n")
    state.global_step = 6
    callback.on_step_end(None, state, None)  # printed once only
    assert capsys.readouterr().out == ""


@pytest.mark.slow
def test_projection_printed_early_in_a_real_run(tiny_llama, qa_file, tmp_path, capsys):
    from knowtune.config import load_config
    from knowtune.train.config import TrainConfig
    from knowtune.train.run import run

    cfg = load_config(TrainConfig, None, [f"model={tiny_llama}", f"data.train={qa_file}", f"base_output_dir={tmp_path}",
                                          "data.max_seq_length=64", "training.max_steps=8", "training.time_budget_hours=8"])
    run(cfg)
    out = capsys.readouterr().out
    assert "for 8 steps: fits the 8h budget" in out
    assert out.index("projected total") < out.index("Done: final model")
    assert "fits the 8h budget" in (tmp_path / "run" / "training.log").read_text()


@pytest.mark.slow
def test_budget_cli_repeats_and_failed_dataset(tiny_llama, qa_file, tmp_path, capsys):
    common = [f"model={tiny_llama}", f"base_output_dir={tmp_path}", "data.max_seq_length=64", "training.max_steps=2",
              "experiment_name=b"]
    assert main(["budget", *common, f"data.train={qa_file}", "--repeats", "2"]) == 0
    report = json.loads((tmp_path / "b-budget.json").read_text())
    seconds = [r["seconds"] for r in report["runs"]]
    assert [r["status"] for r in report["runs"]] == ["finished", "finished"] and all(s > 0 for s in seconds)
    assert report["average_seconds"] == pytest.approx(sum(seconds) / 2) and report["fits"] is True
    assert (tmp_path / "b-budget-1" / "final_model").is_dir() and (tmp_path / "b-budget-2" / "final_model").is_dir()
    out = capsys.readouterr().out
    assert "vs the 8h budget: PASS" in out
    assert "time_budget_hours: 8.0" in (tmp_path / "b-budget-1" / "config.yaml").read_text()  # runs project too

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q"}\n')  # no answer: the run fails, the next one still runs
    code = main(["budget", *common, "experiment_name=c", "--datasets", str(bad), str(qa_file),
                 "--budget_hours", "1e-9", "--out", str(tmp_path / "c.json")])
    assert code == 1
    report = json.loads((tmp_path / "c.json").read_text())
    assert [r["status"] for r in report["runs"]] == ["failed", "finished"] and "bad.jsonl" in report["runs"][0]["error"]
    assert report["fits"] is False and "FAIL (1 run failed)" in capsys.readouterr().out


def test_budget_needs_datasets_or_repeats(fails_with, qa_file):
    fails_with(["budget", f"data.train={qa_file}"], "give --datasets A B C")
    fails_with(["budget", f"data.train={qa_file}", "--repeats", "2", "--datasets", str(qa_file)], "not both")
