"""`knowtune train` end to end on tiny random models: behaviour, not just "it ran"."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from knowtune.config import load_config
from knowtune.train.config import TrainConfig
from knowtune.train.run import run

pytestmark = pytest.mark.slow  # trains, generates with a model or starts processes

RUN_FILES = {"config.yaml", "train_command.txt", "environment_info.txt", "training.log", "training_metrics.json",
             "losses.npy", "tensorboard", "checkpoints", "final_model"}


def make_cfg(model, data, out, *overrides):
    return load_config(TrainConfig, None, [f"model={model}", f"data.train={data}", f"base_output_dir={out}",
                                           "experiment_name=t", "data.max_seq_length=64", *overrides])


def weights(model_dir: Path) -> dict:
    return load_file(str(model_dir / "model.safetensors"))


def test_full_finetune_loss_falls_and_run_dir_is_complete(tiny_llama, qa_file, tmp_path):
    result = run(make_cfg(tiny_llama, qa_file, tmp_path, "method=full", "training.learning_rate=3e-3",
                          "training.num_train_epochs=8", "training.per_device_train_batch_size=4"))
    assert {p.name for p in result.run_dir.iterdir()} == RUN_FILES
    losses = np.load(result.run_dir / "losses.npy")
    assert len(losses) == result.metrics["global_step"] == 32
    assert losses[-4:].mean() < 0.5 * losses[:4].mean()
    assert list((result.run_dir / "tensorboard").glob("events.out.tfevents.*"))
    # A full fine-tune saves a standard transformers directory with its tokenizer, in safetensors.
    final = result.run_dir / "final_model"
    assert (final / "model.safetensors").is_file() and (final / "tokenizer.json").is_file()
    saved = json.loads((result.run_dir / "training_metrics.json").read_text())
    assert saved["data"]["train_samples"] == 16


def test_lora_trains_adapter_only_and_reloads_in_fresh_process(tiny_llama, qa_file, tmp_path):
    result = run(make_cfg(tiny_llama, qa_file, tmp_path, "training.learning_rate=1e-2", "training.max_steps=6",
                          "lora.r=4", "lora.alpha=8"))
    final = result.run_dir / "final_model"
    adapter = load_file(str(final / "adapter_model.safetensors"))
    assert adapter and all("lora_" in k for k in adapter)
    assert any(v.abs().sum() > 0 for k, v in adapter.items() if "lora_B" in k)  # B starts at zero
    config = json.loads((final / "adapter_config.json").read_text())
    assert Path(config["base_model_name_or_path"]) == Path(tiny_llama).resolve()
    base_now = {k.replace(".base_layer", ""): v for k, v in result.model.get_base_model().state_dict().items()
                if "lora_" not in k}
    original = weights(tiny_llama)
    assert base_now.keys() == original.keys()
    for name, tensor in original.items():
        assert torch.equal(base_now[name], tensor), f"base weight {name} changed"

    ids = torch.tensor([[5, 17, 42, 99, 7, 3]])
    with torch.no_grad():
        expected = result.model.eval()(input_ids=ids).logits.numpy()
    out = tmp_path / "logits.npy"
    script = (
        "import json, sys, numpy, torch\n"
        "from transformers import AutoModelForCausalLM\nfrom peft import PeftModel\n"
        "final, out = sys.argv[1], sys.argv[2]\n"
        "base_path = json.load(open(final + '/adapter_config.json'))['base_model_name_or_path']\n"
        "model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_path), final).eval()\n"
        "with torch.no_grad():\n"
        "    numpy.save(out, model(input_ids=torch.tensor([[5, 17, 42, 99, 7, 3]])).logits.numpy())\n"
    )
    subprocess.run([sys.executable, "-c", script, str(final), str(out)], check=True)
    np.testing.assert_allclose(np.load(out), expected, atol=1e-5)


def test_freeze_trains_only_named_parameters(tiny_llama, qa_file, tmp_path):
    result = run(make_cfg(tiny_llama, qa_file, tmp_path, "method=freeze", "freeze.trainable_layers=[-1]",
                          "freeze.trainable_modules=[mlp]", "training.learning_rate=1e-2", "training.max_steps=4"))
    before, after = weights(tiny_llama), weights(result.run_dir / "final_model")
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {k for k in before if k.startswith("model.layers.1.mlp.")}


def test_resume_continues_to_the_same_total(tiny_llama, qa_file, tmp_path, capsys):
    args = ("method=full", "training.max_steps=6", "training.save_steps=2", "training.save_total_limit=null",
            "training.per_device_train_batch_size=4", "training.learning_rate=1e-3")
    first = run(make_cfg(tiny_llama, qa_file, tmp_path, *args))
    losses = np.load(first.run_dir / "losses.npy")
    # Simulate a crash after step 4: the later checkpoint and the outputs never got written.
    import shutil
    shutil.rmtree(first.run_dir / "checkpoints" / "checkpoint-6")
    shutil.rmtree(first.run_dir / "final_model")
    capsys.readouterr()
    second = run(make_cfg(tiny_llama, qa_file, tmp_path, *args, "resume=auto"))
    assert "checkpoint-4 (step 4 of 6; 2 steps remain)" in capsys.readouterr().out
    assert second.metrics["global_step"] == 6
    np.testing.assert_allclose(np.load(second.run_dir / "losses.npy"), losses, rtol=1e-4)


def test_existing_run_dir_is_not_overwritten_silently(tiny_llama, qa_file, tmp_path):
    from knowtune.errors import UserError

    run(make_cfg(tiny_llama, qa_file, tmp_path, "training.max_steps=1"))
    with pytest.raises(UserError, match="already exists; resume it with resume=auto"):
        run(make_cfg(tiny_llama, qa_file, tmp_path, "training.max_steps=1"))
    run(make_cfg(tiny_llama, qa_file, tmp_path, "training.max_steps=1", "overwrite=true"))


def test_early_stopping_stops_on_no_improvement(tiny_llama, qa_file, tmp_path):
    # greater_is_better on a falling eval loss means "no improvement" at every evaluation after the first.
    result = run(make_cfg(tiny_llama, qa_file, tmp_path, "method=full", "data.validation_split_percentage=25",
                          "training.num_train_epochs=10", "training.early_stopping_patience=2",
                          "training.greater_is_better=true", "training.learning_rate=1e-3"))
    evals = [h for h in result.metrics["log_history"] if "eval_loss" in h]
    assert len(evals) == 3 + 1  # epochs 1-3, then the final evaluation
    assert result.metrics["train"]["epoch"] == pytest.approx(3)


def test_qwen2_lora_and_plain_text(tiny_qwen2, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("The quick brown fox jumps over the lazy dog. " * 20)
    result = run(make_cfg(tiny_qwen2, docs, tmp_path, "training.max_steps=3", "training.learning_rate=1e-2"))
    assert result.metrics["data"]["shape"] == "text"
    assert result.metrics["data"]["train_samples"] >= 2  # split into blocks of max_seq_length, not truncated
    assert (result.run_dir / "final_model" / "adapter_model.safetensors").is_file()


def test_lora_settings_from_a_peft_config_file(tiny_llama, qa_file, tmp_path):
    spec = tmp_path / "adapter_config.json"
    spec.write_text(json.dumps({"r": 2, "lora_alpha": 4, "lora_dropout": 0.0, "target_modules": ["q_proj"]}))
    result = run(make_cfg(tiny_llama, qa_file, tmp_path, f"lora.config_file={spec}", "training.max_steps=1"))
    saved = json.loads((result.run_dir / "final_model" / "adapter_config.json").read_text())
    assert saved["r"] == 2 and saved["lora_alpha"] == 4 and saved["target_modules"] == ["q_proj"]


def test_generation_metrics_each_evaluation_and_early_stopping_on_f1(tiny_llama, qa_file, tmp_path):
    result = run(make_cfg(tiny_llama, qa_file, tmp_path, f"training.eval_datasets=[{qa_file}]",
                          "training.num_train_epochs=5", "training.early_stopping_patience=1",
                          "training.metric_for_best_model=eval_qa_f1", "training.eval_max_new_tokens=4",
                          "training.per_device_train_batch_size=8"))
    evals = [h for h in result.metrics["log_history"] if "eval_loss" in h]
    assert all({"eval_qa_exact_match", "eval_qa_f1", "eval_qa_contains"} <= h.keys() for h in evals)
    # A tiny random model never gets an answer right: F1 does not improve after the first
    # evaluation, so patience 1 stops training after epoch 2 of 5.
    assert result.metrics["train"]["epoch"] == pytest.approx(2)
    assert result.metrics["best_checkpoint"].endswith("checkpoint-2")
