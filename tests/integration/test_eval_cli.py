"""`knowtune eval` through the real CLI on the shipped default model (a few questions, to stay quick)."""

import json

import pytest

from knowtune.models import DEFAULT_MODEL, load_model, resolve_model
from run_cli import knowtune

pytestmark = pytest.mark.integration
REPO_DEMO = "examples/demo/heldout.jsonl"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run directory whose final_model/ is a LoRA adapter on the default model (random, so it changes things)."""
    from peft import LoraConfig, get_peft_model

    run = tmp_path_factory.mktemp("runs") / "random-lora"
    base = resolve_model(DEFAULT_MODEL)
    model = get_peft_model(load_model(base), LoraConfig(r=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    model.save_pretrained(run / "final_model")
    (run / "config.yaml").write_text(f"model: {DEFAULT_MODEL}\n", encoding="utf-8")
    return run


def test_compare_base_with_the_default_suite(run_dir):
    result = knowtune("eval", "--model_path", str(run_dir), "--datasets", REPO_DEMO, "--use_default_datasets",
                      "--compare-base", "--max_samples_per_dataset", "2", "--max_new_tokens", "16")
    assert result.returncode == 0, result.stderr
    out = run_dir / "eval"
    results = json.loads((out / "results.json").read_text())
    base, model = results["results"]["base"], results["results"]["model"]
    # The base model knows the general-knowledge answers and not the demo's invented facts.
    assert base["general_knowledge"]["contains"] == 1
    assert base["heldout"]["contains"] == 0
    assert 3 < base["reference_text"]["perplexity"] < 30 and base["reference_text"]["tokens"] > 500
    assert model["reference_text"]["perplexity"] != base["reference_text"]["perplexity"]
    assert set(results["comparison"]) == {"heldout", "general_knowledge", "reference_text"}
    assert results["datasets"]["heldout"]["sha256"] and results["models"]["model"]["adapter_sha256"]
    report = (out / "report.md").read_text()
    assert "## Before and after" in report and "| reference_text | perplexity |" in report
    for label in ("", "base/"):
        for name in ("heldout", "general_knowledge", "reference_text"):
            assert (out / "predictions" / f"{label}{name}.jsonl").is_file()


def test_a_model_without_weights_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    result = knowtune("eval", "--model_path", str(tmp_path), "--use_default_datasets", "--output_dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"knowtune: error: model path {tmp_path} has no weights (*.safetensors or *.bin); was training interrupted before it saved?"]
