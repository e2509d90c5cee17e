"""`knowtune sweep`: the scheduler on simulated GPUs, variant validation, early validation, a real CPU sweep, Ray."""

import json
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from transformers import TrainerControl, TrainerState

from knowtune.cli import main
from knowtune.experiments import sweep as sweep_mod
from knowtune.train.early_validation import STOP_FILE, EarlyValidationCallback, read_result
from knowtune.train.state import read_state
from knowtune.experiments.sweep import LeaderWatch, run_queue, run_sweep
from knowtune.experiments.sweep_config import load_sweep, plan_trials
from knowtune.fileio import write_json
from knowtune.train.config import EarlyValidation


def write_sweep(tmp_path: Path, model, data, **keys) -> Path:
    sweep = {
        "base": {"model": str(model), "method": "full",
                 "data": {"train": str(data), "max_seq_length": 64},
                 "training": {"num_train_epochs": 2, "per_device_train_batch_size": 8, "save_total_limit": 1,
                              "eval_datasets": [str(data)], "eval_max_new_tokens": 4}},
        "base_output_dir": str(tmp_path / "runs"),
        **keys,
    }
    path = tmp_path / "lr_sweep.yaml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False), encoding="utf-8")
    return path


class FakeRunner:
    """Records which device each trial ran on and when; takes `seconds` per trial."""

    def __init__(self, seconds=0.05):
        self.seconds, self.calls, self.lock = seconds, [], threading.Lock()

    def __call__(self, trial, device):
        start = time.monotonic()
        time.sleep(self.seconds)
        with self.lock:
            self.calls.append((trial.name, device, start, time.monotonic()))
        return {"exit_code": 0, "device": device}


def trials_named(names):
    return [sweep_mod.Trial(n, {}, Path("/nonexistent") / n) for n in names]


def test_scheduler_one_trial_per_device_and_the_rest_queue():
    runner = FakeRunner(0.2)
    names = [f"t{i}" for i in range(5)]
    ran = run_queue(trials_named(names), ["2", "5"], runner, interval=0.01)
    assert set(ran) == set(names) and {r["device"] for r in ran.values()} <= {"2", "5"}
    calls = sorted(runner.calls, key=lambda c: c[2])
    assert {c[0] for c in calls[:2]} == {"t0", "t1"} and calls[-1][0] == "t4"  # the queue keeps its order
    for name, device, start, end in calls:
        assert len([c for c in calls if c[2] <= start < c[3]]) <= 2  # never more trials at once than GPUs
        assert not [c for c in calls if c[1] == device and c[2] < end and start < c[3] and c[0] != name]  # one per GPU
    assert calls[2][2] >= min(calls[0][3], calls[1][3])  # the third waited for a free GPU


def test_scheduler_without_gpus_runs_one_after_another():
    runner = FakeRunner(0.05)
    run_queue(trials_named(["a", "b", "c"]), [None], runner, interval=0.01)
    calls = sorted(runner.calls, key=lambda c: c[2])
    assert all(later[2] >= earlier[3] for earlier, later in zip(calls, calls[1:]))
    assert {c[1] for c in calls} == {None}


@pytest.mark.slow
def test_grid_trials_pinned_to_chosen_gpus_and_bad_variant_reported(tmp_path, qa_file, tiny_llama, capsys):
    path = write_sweep(tmp_path, tiny_llama, qa_file, variants=[
        {"name": "slow", "training.learning_rate": 1e-4},
        {"name": "typo", "training": {"learnin_rate": 1e-3}},
        {"name": "wide", "lora": {"r": 8}, "training.learning_rate": 1e-3},
    ])
    runner = FakeRunner()
    summary = run_sweep(load_sweep(path), str(path), devices=["1", "3"], runner=runner)
    err = capsys.readouterr().err
    assert "variant 'typo'" in err and "unknown key 'training.learnin_rate'" in err
    assert "did you mean 'training.learning_rate'" in err
    rows = {r["name"]: r for r in summary["trials"]}
    assert rows["typo"]["state"] == "failed" and "learnin_rate" in rows["typo"]["reason"]
    assert read_state(tmp_path / "runs" / "lr_sweep" / "typo")["state"] == "failed"
    assert {c[0] for c in runner.calls} == {"slow", "wide"} and {c[1] for c in runner.calls} <= {"1", "3"}
    trial = yaml.safe_load((tmp_path / "runs/lr_sweep/trials/wide.yaml").read_text())
    assert trial["lora"]["r"] == 8 and trial["training"]["learning_rate"] == 1e-3
    assert trial["lora"]["alpha"] == 32 and trial["training"]["num_train_epochs"] == 2  # the rest from the base
    assert trial["base_output_dir"] == str(tmp_path / "runs" / "lr_sweep") and trial["experiment_name"] == "wide"


def test_sweep_config_mistakes(tmp_path, qa_file, tiny_llama, fails_with, monkeypatch):
    path = write_sweep(tmp_path, tiny_llama, qa_file, grid={"training.lr": [1e-3, 1e-4]})
    fails_with(["sweep", str(path)], "no trial", "variant 'lr-0.001'", "unknown key 'training.lr'")
    path = write_sweep(tmp_path, tiny_llama, qa_file, grid={"training.learning_rate": [1e-3]}, variants=[{}])
    fails_with(["sweep", str(path)], "lr_sweep.yaml", "either grid")
    path = write_sweep(tmp_path, tiny_llama, qa_file, grid={"training.learning_rate": [1e-3]}, gpu_type="A800")
    monkeypatch.setattr(sweep_mod, "local_devices", lambda: ["NVIDIA A40", "NVIDIA A40"])
    fails_with(["sweep", str(path)], "gpu_type='A800' matches none", "0: NVIDIA A40, 1: NVIDIA A40")
    assert not (tmp_path / "runs" / "lr_sweep").exists()  # nothing ran
    fails_with(["sweep", str(path), "early_validation.criteria=[f1 at least 0.8]"], "not a criterion")


def test_early_validation_callback_stops_on_request(tmp_path):
    callback = EarlyValidationCallback(EarlyValidation(at_epoch=1, criteria=["f1>=0.5"]), tmp_path)
    state, control = TrainerState(epoch=0.5, global_step=3), TrainerControl()
    callback.on_evaluate(None, state, control, metrics={"eval_qa_f1": 0.1})  # before the validation point
    callback.on_step_end(None, state, control)
    assert not control.should_training_stop and read_result(tmp_path) is None
    state.epoch, state.global_step = 1.0, 6
    callback.on_evaluate(None, state, control, metrics={"eval_qa_f1": 0.7})
    assert not control.should_training_stop and read_result(tmp_path)["passed"]
    (tmp_path / STOP_FILE).write_text(json.dumps({"reason": "trails the leader"}))
    callback.on_step_end(None, state, control)
    assert control.should_training_stop
    assert read_state(tmp_path)["state"] == "stopped_early" and "trails the leader" in read_state(tmp_path)["reason"]


def test_leader_watch_stops_only_running_trials_that_trail(tmp_path):
    trials = trials_named(["lead", "close", "far", "far_done"])
    for t, f1 in zip(trials, [0.90, 0.88, 0.80, 0.70]):
        t.run_dir = tmp_path / t.name
        t.run_dir.mkdir()
        write_json(t.run_dir / "early_validation.json", {"metrics": {"eval_pii_f1": f1}, "passed": True})
    LeaderWatch(trials, "f1", 0.03)({"far_done"})
    assert [t.name for t in trials if (t.run_dir / STOP_FILE).is_file()] == ["far"]
    assert "trails the leader lead on f1: 0.8 vs 0.9" in json.loads((tmp_path / "far" / STOP_FILE).read_text())["reason"]


@pytest.mark.slow
def test_cpu_sweep_runs_to_the_end_ranks_and_stops_a_trial_early(tmp_path, qa_file, tiny_llama):
    # lr 1e-6 leaves the random model's eval loss where it started (about 6.0): it misses the criterion
    # at epoch 1 and stops; the others learn enough to pass it and train both epochs.
    path = write_sweep(tmp_path, tiny_llama, qa_file, grid={"training.learning_rate": [1e-6, 3e-3, 5e-3]},
                       metric="eval_loss", early_validation={"at_epoch": 1, "criteria": ["eval_loss<5.8"]})
    assert main(["sweep", str(path)]) == 0
    root = tmp_path / "runs" / "lr_sweep"
    summary = json.loads((root / "summary.json").read_text())
    states = {r["name"]: r["state"] for r in summary["trials"]}
    assert states == {"learning_rate-1e-06": "stopped_early", "learning_rate-0.003": "finished",
                      "learning_rate-0.005": "finished"}
    stopped = read_state(root / "learning_rate-1e-06")
    assert stopped["state"] == "stopped_early" and "eval_loss<5.8" in stopped["reason"]
    assert json.loads((root / "learning_rate-1e-06" / "training_metrics.json").read_text())["global_step"] == 2
    assert json.loads((root / "learning_rate-0.003" / "training_metrics.json").read_text())["global_step"] == 4
    comparison = json.loads((root / "comparison.json").read_text())
    values = {r["name"]: r["value"] for r in comparison["runs"]}
    assert comparison["ranking"] == sorted(values, key=values.get) == summary["ranking"]  # lowest eval_loss first
    assert summary["best"] == comparison["ranking"][0] != "learning_rate-1e-06"
    report = (root / "comparison.md").read_text()
    assert "stopped_early" in report and (root / "comparison.html").is_file()


@pytest.mark.slow
def test_ray_backend_runs_trials_as_ray_tasks(tmp_path, qa_file, tiny_llama):
    ray = pytest.importorskip("ray")
    path = write_sweep(tmp_path, tiny_llama, qa_file, backend="ray",
                       grid={"training.learning_rate": [1e-3, 3e-3]}, metric="eval_loss")
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        summary = run_sweep(load_sweep(path, ["base.training.num_train_epochs=1"]), str(path))
    finally:
        ray.shutdown()
    assert [r["state"] for r in summary["trials"]] == ["finished", "finished"]
    assert all(r["exit_code"] == 0 and r["host"] for r in summary["trials"])
    assert len(summary["ranking"]) == 2


def test_ray_backend_without_ray_names_the_extra(tmp_path, qa_file, tiny_llama, fails_with, monkeypatch):
    path = write_sweep(tmp_path, tiny_llama, qa_file, backend="ray", grid={"training.learning_rate": [1e-3]})
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    fails_with(["sweep", str(path)], "pip install 'knowtune[ray]'")
    assert not (tmp_path / "runs" / "lr_sweep").exists()


def test_plan_trials_names_and_early_validation_settings(tmp_path, qa_file, tiny_llama):
    path = write_sweep(tmp_path, tiny_llama, qa_file, grid={"training.learning_rate": [1e-3, 2e-3], "lora.r": [4, 8]},
                       early_validation={"at_epoch": 1, "criteria": ["f1>=0.85", "recall>=0.8"], "max_gap": 0.03})
    trials = plan_trials(load_sweep(path))
    assert [t.name for t in trials] == ["learning_rate-0.001_r-4", "learning_rate-0.001_r-8",
                                        "learning_rate-0.002_r-4", "learning_rate-0.002_r-8"]
    ev = trials[0].config.training.early_validation
    assert ev.at_epoch == 1 and ev.criteria == ["f1>=0.85", "recall>=0.8"]
