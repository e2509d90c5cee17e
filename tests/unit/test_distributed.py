"""Several processes: DDP on CPUs matches one process, rank 0 alone writes, and launches reach torchrun intact."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from knowtune.cli import main
from knowtune.config import load_config
from knowtune.errors import UserError
from knowtune.train import launch
from knowtune.train.config import TrainConfig
from knowtune.train.distributed import deepspeed_settings
from knowtune.train.run import run
from test_train import RUN_FILES

COMMON = ["method=full", "training.max_steps=4", "training.learning_rate=3e-3", "data.max_seq_length=64"]


def train_cli(*args, cwd, env=None):
    """`knowtune train ...` in a fresh process, as a user runs it."""
    env = dict(os.environ, KNOWTUNE_CACHE=str(cwd / "cache"), KNOWTUNE_DATA_CACHE=str(cwd / "cache" / "datasets"),
               **(env or {}))
    return subprocess.run([sys.executable, "-m", "knowtune", "train", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_matches_one_process(tiny_llama, qa_file, tmp_path):
    common = [f"model={tiny_llama}", f"data.train={qa_file}", f"base_output_dir={tmp_path}", *COMMON]
    # One process, 4 samples a step; then 2 processes, 2 samples each. Accelerate hands process r the
    # per-device batches 2k+r of one sampler order, so step k sees the same 4 samples in both runs, and
    # average_tokens_across_devices makes the loss a mean over all of their tokens, as in one process.
    single = run(load_config(TrainConfig, None, [*common, "experiment_name=single",
                                                 "training.per_device_train_batch_size=4"]))
    done = train_cli(*common, "experiment_name=ddp", "training.per_device_train_batch_size=2",
                     "--nproc_per_node", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Launching 2 processes per node (ddp, CPU, gloo)" in done.stdout

    ddp = tmp_path / "ddp"
    np.testing.assert_allclose(np.load(ddp / "losses.npy"), np.load(single.run_dir / "losses.npy"), rtol=1e-4)
    trained, expected = load_file(ddp / "final_model" / "model.safetensors"), single.model.state_dict()
    for name, tensor in trained.items():
        torch.testing.assert_close(tensor, expected[name], atol=1e-5, rtol=1e-4)

    # Rank 0 alone wrote the run directory: one of everything, where two writers would leave two.
    assert {p.name for p in ddp.iterdir()} == RUN_FILES
    assert len(list((ddp / "tensorboard").glob("events.out.tfevents.*"))) == 1
    commands = [line for line in (ddp / "train_command.txt").read_text().splitlines() if not line.startswith("#")]
    assert len(commands) == 1 and commands[0].endswith("--nproc_per_node 2")  # what the user typed
    assert (ddp / "training.log").read_text().count("Training 4 steps") == 1
    assert "WORLD_SIZE: 2" in (ddp / "environment_info.txt").read_text()
    assert len(list((tmp_path / "cache" / "datasets").iterdir())) == 1  # tokenized once, read by both
    assert done.stdout.count("Tokenizing 16 train records") == 1, done.stdout  # by one process, the other waited


def test_multi_node_arguments_reach_torchrun(tiny_llama, qa_file, monkeypatch, tmp_path):
    started = []
    monkeypatch.setattr(launch.subprocess, "run",
                        lambda command, env: started.append((command, env)) or subprocess.CompletedProcess(command, 0))
    argv = ["train", f"model={tiny_llama}", f"data.train={qa_file}", f"base_output_dir={tmp_path}",
            "--nproc_per_node", "2", "--nnodes=2",
            "--node_rank", "1", "--master_addr", "10.0.0.7", "--master_port", "29511", "--learning_rate", "1e-4"]
    assert main(argv) == 0
    (command, env), = started
    assert command == [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=2", "--node_rank=1",
        "--master_addr=10.0.0.7", "--master_port=29511",
        "-m", "knowtune", "train", f"model={tiny_llama}", f"data.train={qa_file}", f"base_output_dir={tmp_path}",
        "--learning_rate", "1e-4",
    ]
    assert env[launch.COMMAND_ENV] == "knowtune " + " ".join(argv)
    # One node needs no address: torchrun's standalone mode finds a free port.
    flags = launch.LaunchFlags(nproc_per_node=2)
    assert launch.torchrun_command(flags, 2, ["c.yaml"])[3:] == ["--nproc_per_node=2", "--standalone", "-m",
                                                                "knowtune", "train", "c.yaml"]


@pytest.mark.parametrize("flags, message", [
    (["--nnodes", "2"], "--nnodes 2 needs --master_addr"),
    (["--nnodes", "2", "--node_rank", "2", "--master_addr", "h"], "--node_rank 2 must be between 0 and 1"),
    (["--nproc_per_node", "0"], "--nproc_per_node must be at least 1"),
])
def test_bad_launch_flags_are_one_line(flags, message, tiny_llama, qa_file, capsys, tmp_path):
    assert main(["train", f"model={tiny_llama}", f"data.train={qa_file}", f"base_output_dir={tmp_path}", *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


@pytest.fixture
def four_gpus(monkeypatch):
    """A machine with GPUs 0-3 (two A800s, two A40s) as torch would report them."""
    names = ["NVIDIA A800 80GB PCIe", "NVIDIA A800 80GB PCIe", "NVIDIA A40", "NVIDIA A40"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: len(names))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: names[i])
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def cfg(*overrides) -> TrainConfig:
    return load_config(TrainConfig, None, ["data.train=a.jsonl", *overrides])


def test_gpu_choice_becomes_cuda_visible_devices(four_gpus, monkeypatch):
    flags = launch.LaunchFlags()
    assert launch.select_gpus(cfg("gpu_type=a40")) == ["2", "3"]
    assert launch.select_gpus(cfg("gpu_type=auto")) == ["0", "1", "2", "3"]
    assert launch.select_gpus(cfg()) is None
    gpus = launch.select_gpus(cfg("gpu_ids=[1, 3]"))
    assert gpus == ["1", "3"] and launch.processes_per_node(cfg(), flags, gpus) == 2  # one process per GPU
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6,7")  # indices are as torch sees them
    assert launch.select_gpus(cfg("gpu_ids=[0, 2]")) == ["4", "6"]


def test_gpu_mistakes_are_clear(four_gpus):
    with pytest.raises(UserError, match=r"gpu_type='H100' matches none of this machine's GPUs \(0: NVIDIA A800"):
        launch.select_gpus(cfg("gpu_type=H100"))
    with pytest.raises(UserError, match=r"gpu_ids: GPU 4 does not exist \(this machine has 4: 0-3\)"):
        launch.select_gpus(cfg("gpu_ids=[4]"))
    with pytest.raises(UserError, match="--nproc_per_node 3 asks for more processes than the 2 GPUs chosen"):
        launch.processes_per_node(cfg(), launch.LaunchFlags(nproc_per_node=3), ["0", "1"])
    with pytest.raises(UserError, match="set gpu_ids or gpu_type, not both"):
        cfg("gpu_ids=[0]", "gpu_type=A40")


def test_engines_that_need_gpus_or_packages_say_so(tiny_llama, qa_file, capsys, monkeypatch, tmp_path):
    if not torch.cuda.is_available():
        for engine in ("fsdp", "deepspeed"):
            assert main(["train", f"model={tiny_llama}", f"data.train={qa_file}", f"base_output_dir={tmp_path}",
                         f"distributed={engine}"]) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and f"distributed={engine} needs CUDA GPUs" in err, err
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setitem(sys.modules, "deepspeed", None)  # as if not installed
    with pytest.raises(UserError, match=r"deepspeed is not installed; install it with: pip install 'knowtune\[deepspeed\]'"):
        launch.check_engine(cfg("distributed=deepspeed"))
    with pytest.raises(UserError, match="gpu_type chooses CUDA GPUs and this machine has none"):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
        launch.select_gpus(cfg("gpu_type=A800"))


def test_deepspeed_configs_save_a_whole_model(tmp_path):
    zero3 = deepspeed_settings(cfg("deepspeed_config=zero3"))
    assert zero3["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True
    assert deepspeed_settings(cfg())["zero_optimization"]["stage"] == 2
    own = tmp_path / "ds.json"
    own.write_text('{"zero_optimization": {"stage": 3}}')
    with pytest.raises(UserError, match=f"{own}: ZeRO-3 without zero_optimization.stage3_gather_16bit_weights"):
        deepspeed_settings(cfg(f"deepspeed_config={own}"))
    with pytest.raises(UserError, match="deepspeed_config .*missing.json: no such file"):
        deepspeed_settings(cfg(f"deepspeed_config={tmp_path / 'missing.json'}"))


@pytest.mark.slow
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA GPUs: FSDP and DeepSpeed run only on GPUs")
@pytest.mark.parametrize("engine", ["fsdp", "deepspeed"])
def test_sharded_engines_save_a_whole_final_model(engine, tiny_llama, qa_file, tmp_path):
    if engine == "deepspeed":
        pytest.importorskip("deepspeed", reason="deepspeed is not installed (pip install 'knowtune[deepspeed]')")
    from knowtune.models import load_trained

    nproc = str(min(2, torch.cuda.device_count()))
    done = train_cli(f"model={tiny_llama}", f"data.train={qa_file}", f"base_output_dir={tmp_path}", *COMMON,
                     f"distributed={engine}", "deepspeed_config=zero3", "experiment_name=sharded",
                     "training.per_device_train_batch_size=2", "--nproc_per_node", nproc, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    base, saved = load_file(tiny_llama / "model.safetensors"), load_file(tmp_path / "sharded" / "final_model" / "model.safetensors")
    assert saved.keys() == base.keys() and all(saved[k].shape == base[k].shape for k in base)
    assert any(not torch.allclose(saved[k].float(), base[k]) for k in base)  # trained, and whole
    load_trained(tmp_path / "sharded" / "final_model")
