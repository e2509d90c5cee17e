"""Issue 9: replay of the base model's answers, and checkpoint selection on held-out accuracy and retention."""

import json
import re

import pytest
import torch
from safetensors.torch import load_file

from knowtune.evaluate.eval_data import suite_path
from knowtune.evaluate.qa_metrics import normalize_answer
from knowtune.train import replay
from knowtune.train.generation_eval import selection_score, selection_summary

from test_train import make_cfg


def _suite():
    return [json.loads(line) for line in open(suite_path("general_knowledge.jsonl"), encoding="utf-8")]


def test_replay_prompts_share_no_question_with_the_retention_suite():
    prompts = replay.read_prompts(replay.shipped_prompts_path())
    assert len(prompts) >= 200 and len(set(prompts)) == len(prompts)
    suite = _suite()
    assert not {normalize_answer(p) for p in prompts} & {normalize_answer(r["question"]) for r in suite}
    # Nor does a prompt name an answer the suite checks: replaying it would teach the test.
    answers = {a.lower() for r in suite for a in r["answers"] if len(a) > 2 and not a.isdigit()}
    leaks = [(p, a) for p in prompts for a in answers if re.search(rf"\b{re.escape(a)}\b", p.lower())]
    assert not leaks, leaks[:5]


def test_an_answer_cut_by_the_token_limit_ends_at_its_last_full_sentence():
    assert replay.complete_sentences("Water boils at 100 C. At altitude it boils at a low", True) == "Water boils at 100 C."
    assert replay.complete_sentences("No sentence ends here", True) == ""
    assert replay.complete_sentences(" Complete answer ", False) == "Complete answer"


def test_replay_mixes_the_base_models_own_answers_at_the_ratio(tiny_llama, qa_file, tmp_path, monkeypatch):
    from knowtune.data import build_datasets
    from knowtune.evaluate.generate import generate_answers
    from knowtune.models import load_model, load_tokenizer

    cfg = make_cfg(tiny_llama, qa_file, tmp_path, "replay.ratio=0.5", "replay.max_new_tokens=8",
                   f"cache_dir={tmp_path / 'cache'}")
    tokenizer = load_tokenizer(str(tiny_llama))
    model = load_model(str(tiny_llama))
    train_ds, _, _ = build_datasets(cfg.data, tokenizer)
    mixed, records = replay.build(cfg, model, tokenizer, str(tiny_llama), train_ds)

    wanted = replay.choose(replay.all_prompts(cfg), len(train_ds), 0.5, cfg.training.seed)
    assert len(wanted) == 8  # half of 16 training samples
    expected = generate_answers(model, tokenizer, wanted, max_new_tokens=8)
    by_prompt = {r["messages"][0]["content"]: r["messages"][1]["content"] for r in records}
    for prompt, answer in zip(wanted, expected):
        hit_limit = len(tokenizer(answer, add_special_tokens=False)["input_ids"]) >= 7
        if replay.complete_sentences(answer, hit_limit):
            assert by_prompt[prompt] == replay.complete_sentences(answer, hit_limit)
    assert len(mixed) == len(train_ds) + len(records)
    originals = {tuple(ids) for ids in train_ds["input_ids"]}
    assert sum(tuple(ids) in originals for ids in mixed["input_ids"]) == len(train_ds)

    # A second run with the same base model generates nothing: the answers come from the cache.
    def no_generation(*args, **kwargs):
        raise AssertionError("generated again")

    monkeypatch.setattr("knowtune.evaluate.generate.generate_batches", no_generation)
    _, again = replay.build(cfg, model, tokenizer, str(tiny_llama), train_ds)
    assert again == records


def test_selection_prefers_held_out_accuracy_within_the_retention_tolerance():
    assert selection_score(0.9, 0.95, base_retention=1.0, tolerance=1 / 12) == 0.9
    assert selection_score(1.0, 0.80, base_retention=1.0, tolerance=1 / 12) < selection_score(0.1, 0.95, 1.0, 1 / 12)
    # Outside the tolerance, the checkpoint that kept more ranks higher.
    assert selection_score(1.0, 0.5, 1.0, 0.0) < selection_score(0.0, 0.6, 1.0, 0.0)


def _history(points):
    return [{"step": s, "epoch": e, "eval_heldout_contains": h, "eval_retention_contains": r, "eval_loss": 1.0,
             "eval_selection": selection_score(h, r, points[0][3], 1 / 12)} for s, e, h, r in points]


def _summary(points, tolerance):
    baseline, *trained = _history(points)
    return selection_summary(trained, tolerance, baseline)


def test_selection_summary_on_constructed_curves():
    summary = _summary([(0, 0, 0.0, 1.0), (4, 1, 0.5, 1.0), (8, 2, 1.0, 0.75), (12, 3, 0.875, 0.95)], 1 / 12)
    assert summary["base_retention"] == 1.0
    assert [p["within_tolerance"] for p in summary["curve"]] == [True, True, False, True]
    assert summary["chosen_step"] == 12  # the best held-out score among the checkpoints that kept retention
    # When every trained checkpoint forgot too much, the one that forgot least is kept.
    summary = _summary([(0, 0, 0.0, 1.0), (4, 1, 1.0, 0.5), (8, 2, 0.9, 0.7)], 0.0)
    assert summary["chosen_step"] == 8


def test_training_keeps_the_checkpoint_selection_chooses(tiny_llama, qa_file, tmp_path, monkeypatch):
    # Scripted metrics per evaluation (base, epochs 1-4): epoch 2 answers the most held-out questions
    # but forgets; epoch 3 is the best that keeps retention; epoch 4 is worse.
    script = {"heldout": [0.0, 0.5, 1.0, 0.75, 0.5], "retention": [1.0, 1.0, 0.5, 0.95, 0.95]}
    calls = {"heldout": 0, "retention": 0}

    def scripted(model, tokenizer, dataset, **kwargs):
        value = script[dataset.name][calls[dataset.name]]
        calls[dataset.name] += 1
        return {"exact_match": value, "f1": value, "contains": value}

    monkeypatch.setattr("knowtune.evaluate.scoring.generation_metrics", scripted)
    from knowtune.train.run import run

    result = run(make_cfg(tiny_llama, qa_file, tmp_path, f"heldout={qa_file}", "selection.retention=true",
                          "training.num_train_epochs=4", "training.per_device_train_batch_size=8",
                          "training.save_total_limit=1", "training.learning_rate=1e-2"))
    selection = result.metrics["selection"]
    assert [p["step"] for p in selection["curve"]] == [0, 2, 4, 6, 8]
    assert selection["chosen_step"] == 6
    assert result.metrics["best_checkpoint"].endswith("checkpoint-6")
    assert result.metrics["heldout"] == {"before": {"accuracy": 0.0}, "after": {"accuracy": 0.75}}
    final = load_file(str(result.run_dir / "final_model" / "adapter_model.safetensors"))
    chosen = load_file(str(result.run_dir / "checkpoints" / "checkpoint-6" / "adapter_model.safetensors"))
    assert final.keys() == chosen.keys() and all(torch.equal(final[k], chosen[k]) for k in final)
    last = result.run_dir / "checkpoints" / "checkpoint-8" / "adapter_model.safetensors"
    if last.is_file():  # the latest checkpoint is kept for resuming; it must differ from the chosen one
        assert any(not torch.equal(final[k], v) for k, v in load_file(str(last)).items())


def test_selection_needs_heldout_questions(tiny_llama, qa_file, tmp_path):
    with pytest.raises(Exception, match="selection.retention chooses on held-out accuracy"):
        make_cfg(tiny_llama, qa_file, tmp_path, "selection.retention=true")


def test_a_bad_replay_prompt_file_names_its_line(tmp_path):
    from knowtune.errors import UserError

    bad = tmp_path / "prompts.jsonl"
    bad.write_text('{"prompt": "Say hello."}\n{"text": "no prompt field"}\n', encoding="utf-8")
    with pytest.raises(UserError, match=r"prompts.jsonl:2.*'prompt'"):
        replay.read_prompts(bad)
    text = tmp_path / "prompts.txt"
    text.write_text("Say hello.\n\nName a colour.\n", encoding="utf-8")
    assert replay.read_prompts(text) == ["Say hello.", "Name a colour."]
