"""`knowtune train` killed for real (SIGKILL in the middle of a checkpoint, SIGTERM between steps), then resumed.

The subprocess is the real CLI; a few lines of wrapper hold it at a chosen point (inside the save of
a checkpoint, or inside a training step) so that the signal lands there every time, not by luck of
timing. The resumed run must end where an uninterrupted run with the same seed ends: same adapter
weights, same per-step losses and learning rates (so the schedule and the data order continued).
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

from knowtune.train.checkpoints import MARKER, problem

pytestmark = pytest.mark.slow  # trains, generates with a model or starts processes
REPO = Path(__file__).resolve().parents[2]
# 10 steps of 2 samples over 16 records: the run crosses an epoch boundary, and the LR warms up then decays.
SETTINGS = ["data.max_seq_length=64", "lora.r=4", "lora.alpha=8", "training.max_steps=10",
            "training.per_device_train_batch_size=2", "training.learning_rate=5e-3", "training.warmup_ratio=0.2",
            "training.seed=7", "experiment_name=t"]

# Holds the CLI at a chosen point: HOLD=save:N stops inside the save of checkpoint-N after the weights and the
# optimizer are written (the RNG state and trainer_state.json never come); HOLD=step:N stops inside step N+1
# until the file GO exists. READY is written when it is held.
WRAPPER = """
import os, sys, time
from pathlib import Path
import transformers
where, at = os.environ["HOLD"].split(":")
ready, go = Path(os.environ["READY"]), Path(os.environ["READY"] + ".go")
def hold():
    ready.write_text("held")
    deadline = time.time() + 120
    while not go.exists() and time.time() < deadline:
        time.sleep(0.02)
if where == "save":
    save_rng = transformers.Trainer._save_rng_state
    def held_save(self, output_dir):
        if self.state.global_step == int(at):
            hold()
        save_rng(self, output_dir)
    transformers.Trainer._save_rng_state = held_save
else:
    training_step = transformers.Trainer.training_step
    def held_step(self, *args, **kwargs):
        if self.state.global_step == int(at) and not ready.exists():
            hold()
        return training_step(self, *args, **kwargs)
    transformers.Trainer.training_step = held_step
from knowtune.cli import main
sys.exit(main(sys.argv[1:]))
"""


def train_args(model, data, out, *extra) -> list[str]:
    return ["train", f"model={model}", f"data.train={data}", f"base_output_dir={out}", *SETTINGS, *extra]


def resume(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "knowtune", *args, "resume=auto"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def start_held(args: list[str], hold: str, tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    ready = tmp_path / f"ready-{hold.replace(':', '-')}"
    env = {**os.environ, "HOLD": hold, "READY": str(ready)}
    process = subprocess.Popen([sys.executable, "-c", WRAPPER, *args], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 90
    while not ready.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    if not ready.exists():
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"the run never reached {hold}:\n{out[-1500:]}\n{err[-3000:]}")
    return process, ready


def history(run_dir: Path) -> list[tuple[int, float, float]]:
    logged = json.loads((run_dir / "training_metrics.json").read_text())["log_history"]
    return [(h["step"], h["loss"], h["learning_rate"]) for h in logged if "loss" in h]


@pytest.fixture(scope="module")
def reference(tiny_llama, tmp_path_factory):
    """The uninterrupted run: the same CLI in a fresh process, same seed, same settings."""
    out = tmp_path_factory.mktemp("reference")
    # 16 different records: a batch in the wrong order would show in the losses.
    data = out / "qa.jsonl"
    data.write_text("".join(json.dumps({"question": f"What is the code of vault {i}?", "answer": f"Vault {i} opens "
                                        f"with {'-'.join(str(i * k % 97) for k in range(2, 5))}."}) + "\n"
                            for i in range(16)))
    done = subprocess.run([sys.executable, "-m", "knowtune", *train_args(tiny_llama, data, out)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return data, out / "t"


def assert_same_run(run_dir: Path, expected: Path) -> None:
    got, want = history(run_dir), history(expected)
    assert [s for s, _, _ in got] == [s for s, _, _ in want] == list(range(1, 11))
    np.testing.assert_allclose([l for _, l, _ in got], [l for _, l, _ in want], rtol=1e-4)
    np.testing.assert_allclose([r for _, _, r in got], [r for _, _, r in want], rtol=1e-6)
    assert len({r for _, _, r in want}) > 5  # the schedule moves: a restart would show
    np.testing.assert_allclose(np.load(run_dir / "losses.npy"), np.load(expected / "losses.npy"), rtol=1e-4)
    a = load_file(str(run_dir / "final_model" / "adapter_model.safetensors"))
    b = load_file(str(expected / "final_model" / "adapter_model.safetensors"))
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(a[name].numpy(), b[name].numpy(), rtol=1e-4, atol=1e-6, err_msg=name)


def test_sigkill_during_a_checkpoint_then_resume_auto_matches_an_uninterrupted_run(tiny_llama, reference, tmp_path):
    data, expected = reference
    args = train_args(tiny_llama, data, tmp_path, "training.save_steps=2")
    process, _ = start_held(args, "save:6", tmp_path)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    checkpoints = tmp_path / "t" / "checkpoints"
    assert (checkpoints / "checkpoint-4" / MARKER).is_file()
    partial = checkpoints / "checkpoint-6"
    assert (partial / "adapter_model.safetensors").is_file() and not (partial / MARKER).exists()
    assert problem(partial, marked_run=True) == f"no {MARKER}: the save did not finish"
    assert not (tmp_path / "t" / "final_model").exists()

    resumed = resume(args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"skipping checkpoint {partial}: no {MARKER}" in resumed.stderr
    assert f"Resuming from {checkpoints / 'checkpoint-4'} (step 4 of 10; 6 steps remain)" in resumed.stdout
    assert_same_run(tmp_path / "t", expected)


def test_sigterm_saves_a_checkpoint_at_the_next_step_and_exits(tiny_llama, reference, tmp_path):
    data, expected = reference
    args = train_args(tiny_llama, data, tmp_path, "training.save_steps=100")
    process, ready = start_held(args, "step:3", tmp_path)
    process.send_signal(signal.SIGTERM)
    Path(f"{ready}.go").write_text("go")  # the held step 4 finishes; the checkpoint comes at its end
    out, err = process.communicate(timeout=60)
    checkpoint = tmp_path / "t" / "checkpoints" / "checkpoint-4"
    assert process.returncode == 143, err[-3000:]
    assert f"knowtune: stopped by SIGTERM at step 4 of 10; checkpoint saved in {checkpoint}; continue with resume=auto" in err
    assert (checkpoint / MARKER).is_file() and problem(checkpoint, marked_run=True) is None
    assert not (tmp_path / "t" / "final_model").exists()
    # The saved state is the uninterrupted run's at step 4 (resuming from it is the test above).
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    saved = [(h["step"], h["loss"], h["learning_rate"]) for h in state["log_history"] if "loss" in h]
    np.testing.assert_allclose(saved, history(expected)[:4], rtol=1e-4)
