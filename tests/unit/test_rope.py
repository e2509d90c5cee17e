"""RoPE control: NoPE layers ignore positions, rope_theta reaches the rotary embedding, settings survive saving."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM

from knowtune.config import load_config
from knowtune.errors import UserError
from knowtune.models import load_model, load_trained
from tiny_models import build_tiny_model
from knowtune.train.config import TrainConfig
from knowtune.train.run import run

IDS = torch.tensor([[5, 17, 42, 99, 7, 3, 8, 21]])


def attention_outputs(model, position_ids) -> list[torch.Tensor]:
    """Each decoder layer's attention output for IDS at the given positions."""
    found = []
    hooks = [layer.self_attn.register_forward_hook(lambda m, a, out: found.append(out[0].detach()))
             for layer in model.get_decoder().layers]
    with torch.no_grad():
        model(input_ids=IDS, position_ids=position_ids)
    for hook in hooks:
        hook.remove()
    return found


@pytest.mark.parametrize("arch", ["llama", "qwen2", "qwen3"])
def test_nope_layer_ignores_positions_and_others_do_not(arch, tmp_path):
    path = str(build_tiny_model(tmp_path, arch=arch))
    # Not a uniform shift: RoPE scores depend on relative positions only, so stretch them instead.
    near, far = torch.arange(8)[None], (torch.arange(8) * 3)[None]
    nope = load_model(path, no_rope_layers=[0]).eval()
    layer0_near, layer1_near = attention_outputs(nope, near)
    layer0_far, layer1_far = attention_outputs(nope, far)
    assert torch.equal(layer0_near, layer0_far)
    # Random tiny weights make small attention scores, so position changes move outputs only a little;
    # the NoPE layer above is bit-for-bit equal, these differ far beyond rounding.
    assert (layer1_near - layer1_far).abs().max() > 1e-5  # layer 1 keeps its RoPE
    plain = load_model(path).eval()
    assert (attention_outputs(plain, near)[0] - attention_outputs(plain, far)[0]).abs().max() > 1e-5


def test_rope_theta_reaches_the_rotary_embedding(tiny_llama):
    model = load_model(str(tiny_llama), rope_theta=1234.0)
    dim = model.config.hidden_size // model.config.num_attention_heads
    expected = 1.0 / (1234.0 ** (torch.arange(0, dim, 2, dtype=torch.float) / dim))
    torch.testing.assert_close(model.get_decoder().rotary_emb.inv_freq, expected)
    assert not torch.allclose(load_model(str(tiny_llama)).get_decoder().rotary_emb.inv_freq, expected)


def test_bad_layers_and_architectures_are_named(tiny_llama, tmp_path):
    with pytest.raises(UserError, match=r"no_rope_layers: layer 5 does not exist \(the model has 2: 0-1\)"):
        load_model(str(tiny_llama), no_rope_layers=[5])
    from transformers import MistralConfig

    MistralConfig(num_hidden_layers=2, hidden_size=64, intermediate_size=64, num_attention_heads=4,
                  num_key_value_heads=2).save_pretrained(tmp_path)
    with pytest.raises(UserError, match="no_rope_layers: model type 'mistral' is not supported"):
        load_model(str(tmp_path), no_rope_layers=[1])


def logits(model) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(input_ids=IDS).logits


@pytest.mark.slow
@pytest.mark.parametrize("method", ["full", "lora"])
def test_saved_settings_come_back_on_load(method, tiny_llama, qa_file, tmp_path):
    cfg = load_config(TrainConfig, None, [
        f"model={tiny_llama}", f"data.train={qa_file}", f"base_output_dir={tmp_path}", "experiment_name=r",
        f"method={method}", "no_rope_layers=[0]", "rope_theta=500000", "training.max_steps=2",
        "training.learning_rate=1e-2", "data.max_seq_length=64", "lora.r=4"])
    result = run(cfg)
    final = result.run_dir / "final_model"
    expected = logits(result.model)
    model, tokenizer = load_trained(final)
    torch.testing.assert_close(logits(model), expected)
    assert tokenizer.chat_template  # the template trained with comes along

    if method == "full":  # config.json records both; plain transformers honours rope_theta only
        saved = json.loads((final / "config.json").read_text())
        assert saved["knowtune_no_rope_layers"] == [0] and saved["rope_parameters"]["rope_theta"] == 500000
        plain = AutoModelForCausalLM.from_pretrained(final)
    else:  # the adapter's sidecar records the overrides; PEFT alone ignores it
        from peft import PeftModel

        assert json.loads((final / "knowtune_rope.json").read_text()) == {"rope_theta": 500000.0, "no_rope_layers": [0]}
        plain = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_llama), final)
    assert (logits(plain) - expected).abs().max() > 1e-3


def test_cli_rejects_bad_rope_settings_before_writing(tiny_llama, qa_file, tmp_path, capsys):
    from knowtune.cli import main

    assert main(["train", f"model={tiny_llama}", f"data.train={qa_file}", f"base_output_dir={tmp_path / 'runs'}",
                 "--no_rope_layers", "0", "9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no_rope_layers: layer 9 does not exist" in err, err
    assert not (tmp_path / "runs").exists()
