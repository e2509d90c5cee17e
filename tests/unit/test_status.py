"""`knowtune status`: step, loss, ETA, latest metrics and state of runs in every state."""

import pytest
import json
import os
import time
from datetime import datetime, timedelta

from knowtune.cli import main
from knowtune.train.state import write_state


def log_lines(start: datetime, total: int, steps: list[int], seconds_per_step: float) -> str:
    stamp = lambda t: t.strftime("%Y-%m-%d %H:%M:%S") + ",123"  # noqa: E731
    lines = [f"{stamp(start)} INFO knowtune: Training {total} steps -> runs/x"]
    for s in steps:
        t = start + timedelta(seconds=s * seconds_per_step)
        lines.append(f'{stamp(t)} INFO knowtune: step {s}: {{"loss": {3.0 - s / 10}, "epoch": 0.1}}')
    return "\n".join(lines) + "\n"


def rows(out: str) -> dict[str, str]:
    return {line.split()[0]: line for line in out.splitlines()[1:-1]}


@pytest.mark.slow
def test_status_of_a_folder_of_runs_in_every_state(tiny_llama, qa_file, tmp_path, capsys):
    from knowtune.config import load_config
    from knowtune.train.config import TrainConfig
    from knowtune.train.run import run

    run(load_config(TrainConfig, None, [f"model={tiny_llama}", f"data.train={qa_file}", f"base_output_dir={tmp_path}",
                                        "experiment_name=done", "data.max_seq_length=64", "training.max_steps=4",
                                        "data.validation_split_percentage=25"]))
    # Running: 5 of 10 steps logged, 10 s per step from step 1 to step 5 -> 5 steps left = 50 s.
    live = tmp_path / "live"
    live.mkdir()
    (live / "training.log").write_text(log_lines(datetime.now() - timedelta(seconds=60), 10, [1, 2, 3, 4, 5], 10))
    # Running according to its log, but silent for two hours: probably killed.
    dead = tmp_path / "dead"
    dead.mkdir()
    (dead / "training.log").write_text(log_lines(datetime.now() - timedelta(hours=3), 10, [1, 2], 10))
    os.utime(dead / "training.log", (time.time() - 7200, time.time() - 7200))
    # Stopped by early validation; only a checkpoint's trainer_state.json says how far it got.
    stopped = tmp_path / "stopped"
    (stopped / "checkpoints" / "checkpoint-3").mkdir(parents=True)
    (stopped / "checkpoints" / "checkpoint-3" / "trainer_state.json").write_text(json.dumps({
        "global_step": 3, "max_steps": 12,
        "log_history": [{"loss": 2.5, "step": 3}, {"eval_loss": 2.4, "eval_pii_f1": 0.61, "eval_runtime": 1.0, "step": 3}]}))
    write_state(stopped, "stopped_early", reason="f1>=0.85: got 0.61")
    failed = tmp_path / "failed"
    write_state(failed, "failed", reason="CUDA out of memory")
    (tmp_path / "not-a-run").mkdir()

    capsys.readouterr()  # the training's own output
    assert main(["status", str(tmp_path)]) == 0
    found = rows(capsys.readouterr().out)
    assert set(found) == {"done", "live", "dead", "stopped", "failed"}
    losses = json.loads((tmp_path / "done" / "training_metrics.json").read_text())
    last_loss = [h["loss"] for h in losses["log_history"] if "loss" in h][-1]
    assert found["done"].split()[1:4] == ["finished", "4/4", f"{last_loss:.4f}"]
    assert f"eval_loss={losses['eval']['eval_loss']:.4g}" in found["done"]
    assert found["live"].split()[1:5] == ["running", "5/10", "2.5000", "0m50s"]
    assert "running? (log silent 2h00m)" in found["dead"] and "2/10" in found["dead"]
    assert "stopped_early (f1>=0.85: got 0.61)" in found["stopped"]
    assert "3/12" in found["stopped"] and "eval_loss=2.4, eval_pii_f1=0.61" in found["stopped"]
    assert "failed (CUDA out of memory)" in found["failed"]


def test_status_of_one_run_and_bad_path(tmp_path, capsys, fails_with):
    live = tmp_path / "live"
    live.mkdir()
    (live / "training.log").write_text(log_lines(datetime.now(), 100, [1, 11], 2))
    assert main(["status", str(live)]) == 0
    assert rows(capsys.readouterr().out)["live"].split()[1:5] == ["running", "11/100", "1.9000", "2m58s"]  # 89 steps at 2 s
    fails_with(["status", str(tmp_path / "missing")], "missing: no such directory")
    (tmp_path / "empty").mkdir()
    fails_with(["status", str(tmp_path / "empty")], "neither a run directory nor a folder of run directories")
