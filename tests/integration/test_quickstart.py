"""The real CLI on the shipped default model: it learns the demo's invented facts."""

import json
import subprocess
import sys
from pathlib import Path

from run_cli import knowtune


def test_models_prepare_converts_once_into_the_cache(tmp_path):
    first = knowtune("models", "prepare", "--cache_dir", str(tmp_path))
    assert first.returncode == 0, first.stderr
    model_dir = tmp_path / "models" / "smollm2-135m-instruct"
    assert (model_dir / "model.safetensors").is_file() and (model_dir / "tokenizer.json").is_file()
    assert "quantization_config" not in json.loads((model_dir / "config.json").read_text())
    stamp = (model_dir / "model.safetensors").stat().st_mtime
    again = knowtune("models", "prepare", "--cache_dir", str(tmp_path))
    assert again.returncode == 0 and "Converting" not in again.stdout
    assert (model_dir / "model.safetensors").stat().st_mtime == stamp
    listed = knowtune("models", "list", "--cache_dir", str(tmp_path))
    assert f"prepared at {model_dir}" in listed.stdout


def test_quickstart_learns_the_invented_facts(quickstart):
    run_dir = quickstart.run_dir
    heldout = json.loads((run_dir / "training_metrics.json").read_text())["heldout"]
    right_before = sum(p["correct"] for p in heldout["before"]["predictions"])
    right_after = sum(p["correct"] for p in heldout["after"]["predictions"])
    assert heldout["after"]["n"] == 8
    assert right_before <= 1, heldout["before"]["predictions"]
    assert right_after >= 7, heldout["after"]["predictions"]
    assert f"Held-out accuracy after training: {right_after}/8" in quickstart.stdout

    # The adapter is a standard PEFT adapter on a base path that loads, in a fresh process.
    script = (
        "import json, sys\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\nfrom peft import PeftModel\n"
        "final = sys.argv[1]\nbase = json.load(open(final + '/adapter_config.json'))['base_model_name_or_path']\n"
        "tok = AutoTokenizer.from_pretrained(final)\n"
        "model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), final)\n"
        "ids = tok.apply_chat_template([{'role': 'user', 'content': 'Who founded the town of Vellmoor?'}],"
        " add_generation_prompt=True, return_tensors='pt', return_dict=True)\n"
        "out = model.generate(**ids, max_new_tokens=20, do_sample=False)\n"
        "print(tok.decode(out[0][ids['input_ids'].shape[1]:], skip_special_tokens=True))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", script, str(run_dir / "final_model")], capture_output=True,
                            text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert "Odrin Kestavel" in loaded.stdout
