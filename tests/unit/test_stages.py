"""Staged training: each stage in its own run directory, each starting from the stage before."""

import shutil
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from knowtune.cli import main
from knowtune.config import load_config
from knowtune.models import load_trained
from knowtune.train.config import TrainConfig
from knowtune.train.run import run
from test_train import RUN_FILES


def weights(model_dir) -> dict:
    return load_file(str(model_dir / "model.safetensors"))


def write_config(path, model, data, out, stages) -> Path:
    path.write_text(yaml.safe_dump({
        "model": str(model), "data": {"train": str(data), "max_seq_length": 64}, "base_output_dir": str(out),
        "training": {"max_steps": 2, "learning_rate": 1e-2, "per_device_train_batch_size": 4},
        "lora": {"r": 4, "alpha": 8}, "stages": stages}))
    return path


@pytest.mark.slow
def test_freeze_then_lora_and_restart_at_stage_2(tiny_llama, qa_file, tmp_path, capsys):
    config = write_config(tmp_path / "staged.yaml", tiny_llama, qa_file, tmp_path / "runs", [
        {"method": "freeze", "freeze": {"trainable_layers": [1]}},
        {"method": "lora", "training": {"learning_rate": 3e-3}},
    ])
    result = run(load_config(TrainConfig, config, base={"experiment_name": "staged"}))
    runs = tmp_path / "runs" / "staged"
    assert {p.name for p in runs.iterdir()} == {"stage-1", "stage-2"}
    for stage in ("stage-1", "stage-2"):
        assert {p.name for p in (runs / stage).iterdir()} == RUN_FILES

    # Stage 1 changed only the layer it unfroze.
    base, stage1 = weights(tiny_llama), weights(runs / "stage-1" / "final_model")
    assert {k for k in base if not torch.equal(base[k], stage1[k])} == {k for k in base if k.startswith("model.layers.1.")}
    # Stage 2 trained a LoRA adapter on stage 1's weights.
    assert result.run_dir == runs / "stage-2"
    stage2 = yaml.safe_load((runs / "stage-2" / "config.yaml").read_text())
    assert stage2["model"] == str(runs / "stage-1" / "final_model") and stage2["method"] == "lora"
    assert stage2["training"]["learning_rate"] == 3e-3 and stage2["training"]["max_steps"] == 2
    under_lora = {k.replace(".base_layer", ""): v for k, v in result.model.get_base_model().state_dict().items()
                  if "lora_" not in k}
    assert all(torch.equal(under_lora[k], v) for k, v in stage1.items())
    ids = torch.tensor([[5, 17, 42, 99, 7]])
    with torch.no_grad():
        expected = result.model.eval()(input_ids=ids).logits
        reloaded, _ = load_trained(runs / "stage-2" / "final_model")
        torch.testing.assert_close(reloaded(input_ids=ids).logits, expected)
    losses = (runs / "stage-2" / "losses.npy").read_bytes()

    # --stage 2 starts the sequence again at stage 2, from the stage 1 on disk.
    shutil.rmtree(runs / "stage-2")
    stage1_files = {p: p.stat().st_mtime_ns for p in (runs / "stage-1").rglob("*")}
    assert main(["train", str(config), "--stage", "2"]) == 0
    assert {p: p.stat().st_mtime_ns for p in (runs / "stage-1").rglob("*")} == stage1_files
    assert (runs / "stage-2" / "losses.npy").read_bytes() == losses  # the same run, deterministically

    capsys.readouterr()
    assert main(["train", str(config), "experiment_name=fresh", "--stage", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs stage 1's result" in err and str(tmp_path / "runs" / "fresh" / "stage-1") in err


@pytest.mark.slow
def test_a_lora_stage_is_merged_before_the_next(tiny_llama, qa_file, tmp_path):
    config = write_config(tmp_path / "merge.yaml", tiny_llama, qa_file, tmp_path / "runs", [
        {"method": "lora"},
        {"method": "freeze", "freeze": {"trainable_layers": [0]}, "training": {"gradient_checkpointing": True}},
    ])
    run(load_config(TrainConfig, config, base={"experiment_name": "merge"}))
    stage2 = tmp_path / "runs" / "merge" / "stage-2"
    merged, final, base = weights(stage2 / "merged_base"), weights(stage2 / "final_model"), weights(tiny_llama)
    layer1 = [k for k in base if k.startswith("model.layers.1.self_attn.q_proj")]
    for k in layer1:  # stage 1's adapter is in the start weights, and stage 2 left layer 1 alone
        assert not torch.allclose(merged[k], base[k]) and torch.equal(final[k], merged[k])
    assert yaml.safe_load((stage2 / "config.yaml").read_text())["training"]["gradient_checkpointing"] is True


def test_stage_overrides_are_checked_when_the_config_loads():
    from knowtune.errors import UserError

    with pytest.raises(UserError, match="stage 2: unknown key 'training.learning_rat'"):
        load_config(TrainConfig, None, ["data.train=a.jsonl", "stages=[{method: full}, {training: {learning_rat: 1}}]"])
    with pytest.raises(UserError, match="stage 1: model cannot be set per stage"):
        load_config(TrainConfig, None, ["data.train=a.jsonl", "stages=[{model: x}]"])
    with pytest.raises(UserError, match="start_stage=3, but the config lists 2 stages"):
        load_config(TrainConfig, None, ["data.train=a.jsonl", "stages=[{}, {}]", "start_stage=3"])
