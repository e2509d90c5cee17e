"""Issue 9: replay of the base model's answers, and checkpoint selection on held-out accuracy and retention."""

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from knowtune.evaluate.eval_data import suite_path
from knowtune.evaluate.qa_metrics import normalize_answer
from knowtune.train import replay
from knowtune.train.trainer import selection_score, selection_summary

from test_train import make_cfg


def _suite():
    return [json.loads(line) for line in open(suite_path("general_knowledge.jsonl"), encoding="utf-8")]


# Everyday words that are answers in the suite and also occur in replay prompts with another meaning
# ("Who composed The Four Seasons?" does not teach how many legs a dog has).
EVERYDAY = {"two", "four", "nine", "better", "late", "empty", "night", "summer", "autumn", "yellow", "light", "wrote",
            "author", "earth", "cell", "euro", "football", "saturday", "breakfast", "apple", "coffee", "dog"}


def test_replay_prompts_share_no_question_with_the_retention_suite():
    prompts = replay.read_prompts(replay.shipped_prompts_path())
    assert len(prompts) >= 200 and len(set(prompts)) == len(prompts)
    suite = _suite()
    questions = [normalize_answer(r["question"]) for r in suite]
    assert len(suite) >= 300 and len(set(questions)) == len(questions)
    assert sum(any("\u4e00" <= c <= "\u9fff" for c in r["question"]) for r in suite) >= 50  # Chinese questions too
    assert not {normalize_answer(p) for p in prompts} & set(questions)
    # Nor does a prompt name an answer the suite checks: replaying it would teach the test.
    answers = {a.lower() for r in suite for a in r["answers"] if len(a) > 2 and not a.isdigit()} - EVERYDAY
    leaks = [(p, a) for p in prompts for a in answers if re.search(rf"\b{re.escape(a)}\b", p.lower())]
    assert not leaks, leaks[:5]


def test_replay_kinds_choose_among_the_shipped_prompts(tmp_path):
    every = replay.read_prompts(replay.shipped_prompts_path())
    facts = replay.read_prompts(replay.shipped_prompts_path(), ["fact"])
    both = replay.read_prompts(replay.shipped_prompts_path(), ["fact", "chat"])
    assert 50 < len(facts) < len(both) < len(every) and set(facts) < set(both)
    assert "What is the freezing point of water in degrees Celsius?" in facts
    assert "What is the freezing point of water in degrees Celsius?" not in replay.read_prompts(
        replay.shipped_prompts_path(), ["chat"])


def test_an_answer_cut_by_the_token_limit_ends_at_its_last_full_sentence():
    assert replay.complete_sentences("Water boils at 100 C. At altitude it boils at a low", True) == "Water boils at 100 C."
    assert replay.complete_sentences("No sentence ends here", True) == ""
    assert replay.complete_sentences(" Complete answer ", False) == "Complete answer"


@pytest.mark.slow
def test_replay_mixes_the_base_models_own_answers_at_the_ratio(tiny_llama, qa_file, tmp_path, monkeypatch):
    from knowtune.data import build_datasets
    from knowtune.models.generate import generate_answers
    from knowtune.models import load_model, load_tokenizer

    cfg = make_cfg(tiny_llama, qa_file, tmp_path, "replay.ratio=0.5", "replay.max_new_tokens=8",
                   f"cache_dir={tmp_path / 'cache'}")
    tokenizer = load_tokenizer(str(tiny_llama))
    model = load_model(str(tiny_llama))
    train_ds, _, _ = build_datasets(cfg.data, tokenizer)
    mixed, records, teacher = replay.build(cfg, model, tokenizer, str(tiny_llama), train_ds)

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

    monkeypatch.setattr("knowtune.models.generate.generate_batches", no_generation)
    _, again, _ = replay.build(cfg, model, tokenizer, str(tiny_llama), train_ds)
    assert again == records


def test_selection_prefers_held_out_accuracy_within_the_retention_tolerance():
    assert selection_score(0.9, 0.95, base_retention=1.0, tolerance=1 / 12) == pytest.approx(0.9, abs=1e-3)
    # Equal held-out accuracy: the checkpoint that kept more wins; one more held-out answer still beats it.
    assert selection_score(1.0, 0.95, 1.0, 1 / 12) > selection_score(1.0, 0.92, 1.0, 1 / 12)
    assert selection_score(0.875, 1.0, 1.0, 1 / 12) < selection_score(1.0, 0.92, 1.0, 1 / 12)
    assert selection_score(1.0, 0.80, base_retention=1.0, tolerance=1 / 12) < selection_score(0.1, 0.95, 1.0, 1 / 12)
    # Outside the tolerance, the checkpoint that kept more ranks higher; of equal retention, the one that learned more
    # (a run with no checkpoint within kept its first epoch, 41% dev, over its last, 94% dev, both at 32/36).
    assert selection_score(1.0, 0.5, 1.0, 0.0) < selection_score(0.0, 0.6, 1.0, 0.0)
    assert selection_score(0.94, 32 / 36, 1.0, 1 / 12) > selection_score(0.41, 32 / 36, 1.0, 1 / 12)


def test_selection_tolerance_is_the_verdicts_on_the_questions_the_base_model_answers():
    from knowtune.experiments.job import selection_tolerance

    # The verdict allows 1/12 of the 387-question suite (32.25 questions); the shipped model answers 202 of them.
    assert selection_tolerance(1 / 12, 202 / 387) == pytest.approx(32.25 / 202)
    assert selection_tolerance(1 / 12, 1.0) == pytest.approx(1 / 12)
    assert selection_tolerance(1 / 12, 0.05) == 1.0 and selection_tolerance(1 / 12, 0.0) == pytest.approx(1 / 12)


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
    # Equal held-out accuracy: the later checkpoint kept more, so it is the one kept.
    summary = _summary([(0, 0, 0.0, 1.0), (8, 1, 1.0, 33 / 36), (16, 2, 1.0, 34 / 36)], 1 / 12)
    assert summary["chosen_step"] == 16


@pytest.mark.slow
def test_training_keeps_the_checkpoint_selection_chooses(tiny_llama, qa_file, tmp_path, monkeypatch):
    # Scripted metrics per evaluation (base, epochs 1-4): epoch 2 answers the most held-out questions
    # but forgets; epoch 3 is the best that keeps retention; epoch 4 is worse.
    script = {"heldout": [0.0, 0.5, 1.0, 0.75, 0.5], "retention": [1.0, 1.0, 0.5, 0.95, 0.95]}
    calls = {"heldout": 0, "retention": 0}

    def scripted(model, tokenizer, datasets, **kwargs):  # the trainer asks every set of an evaluation at once
        # on a CPU a merged copy answers, as the final evaluation loads the model; the trained adapter stays
        assert not any("lora_" in name for name, _ in model.named_parameters())
        values = [script[dataset.name][calls[dataset.name]] for dataset in datasets]
        for dataset in datasets:
            calls[dataset.name] += 1
        return [{"exact_match": value, "f1": value, "contains": value} for value in values]

    monkeypatch.setattr("knowtune.evaluate.scoring.generation_metrics_together", scripted)
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


def test_selection_asks_its_sets_until_answered_and_a_users_eval_set_to_the_end(tiny_llama, qa_file, tmp_path):
    from knowtune.train.trainer import load_generation_evals

    missed = tmp_path / "missed.jsonl"
    missed.write_text(Path(suite_path("general_knowledge.jsonl")).read_text(encoding="utf-8").splitlines()[-1] + "\n")
    mine = tmp_path / "mine.jsonl"
    mine.write_text(qa_file.read_text())
    sets = load_generation_evals(make_cfg(tiny_llama, qa_file, tmp_path, f"heldout={qa_file}", "selection.retention=true",
                                          f"selection.missed={missed}", "selection.base_share=0.5",
                                          f"training.eval_datasets=[{mine}]"))
    # selection reads `contains` only (knowtune.evaluate.scoring.answered_check); a user's set keeps whole answers
    assert {d.name: d.ends_when_answered for d in sets} == {"mine": False, "heldout": True, "retention": True,
                                                          "retention_missed": True}


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


@pytest.mark.slow
@pytest.mark.parametrize("batching", ["padding_free", "by_length"])
def test_replay_distillation_is_zero_for_the_base_model_and_lines_up_with_the_replayed_tokens(
        tiny_llama, qa_file, tmp_path, batching, monkeypatch):
    """replay.loss=kl: each replayed position carries the base model's distribution; the loss there is
    KL(base || model), zero before training, while the training samples keep their cross-entropy."""
    from knowtune.data import build_datasets
    from knowtune.models import load_tokenizer
    from knowtune.train.trainer import GenerationEvalTrainer
    from knowtune.train.methods import build_model
    from knowtune.train.arguments import settle_batching, trainer_args

    cfg = make_cfg(tiny_llama, qa_file, tmp_path, "replay.ratio=0.5", "replay.max_new_tokens=8", "lora.dropout=0",
                   "replay.kl_top_k=8", f"cache_dir={tmp_path / 'cache'}")
    tokenizer = load_tokenizer(str(tiny_llama))
    model, _ = build_model(cfg, str(tiny_llama))
    train_ds, _, _ = build_datasets(cfg.data, tokenizer)
    # A random model ends no sentence within 8 tokens: give its replayed answers words of varied length.
    monkeypatch.setattr(replay, "base_answers", lambda cfg, model, tokenizer, path, prompts: {
        p: "It is so. " * (1 + i % 3) for i, p in enumerate(prompts)})
    mixed, records, teacher = replay.build(cfg, model, tokenizer, str(tiny_llama), train_ds)
    assert len(teacher) == len(records) and all(ids.shape == logp.shape and ids.shape[1] == 8 for ids, logp in teacher)

    def computed_again(*args, **kwargs):
        raise AssertionError("computed again")

    # The distributions are kept per base model and sample: a second build reads them back.
    with monkeypatch.context() as patch:
        patch.setattr(replay, "teacher_distributions", computed_again)
        _, _, again = replay.build(cfg, model, tokenizer, str(tiny_llama), train_ds)
        assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(teacher, again))
        # The same files loaded with another RoPE base give other distributions: nothing cached for them is used.
        other = cfg.model_copy(update={"rope_theta": 20000.0})
        with pytest.raises(AssertionError, match="computed again"):
            replay.build(other, model, tokenizer, str(tiny_llama), train_ds)
    assert sorted(i for i in mixed["replay_index"] if i >= 0) == list(range(len(records)))

    args = trainer_args(cfg, tmp_path / "run", has_eval=False)
    settle_batching(args, model, batching)
    trainer = GenerationEvalTrainer(model=model, args=args, train_dataset=mixed, processing_class=tokenizer,
                                    replay_teacher=teacher)
    rows = [mixed[i] for i in range(len(mixed))]
    replayed = [r for r in rows if r["replay_index"] >= 0][:3]
    trained = [r for r in rows if r["replay_index"] < 0][:3]
    batch = trainer.data_collator(replayed + trained)
    positions = (batch["labels"][:, 1:] != -100).sum().item()
    assert batch["teacher_on"].shape == (positions,)
    assert batch["teacher_ids"].shape[0] == batch["teacher_on"].sum() == sum(len(teacher[r["replay_index"]][0])
                                                                             for r in replayed)
    model.train()
    # Only replayed samples: the model is the base model (LoRA B is zero), so the loss is zero.
    only_replay = trainer.data_collator(replayed)
    assert trainer.compute_loss(model, dict(only_replay)).item() == pytest.approx(0.0, abs=1e-5)
    # Mixed: the training samples' cross-entropy over all trained positions, replayed ones adding zero.
    mixed_loss = trainer.compute_loss(model, dict(batch))
    ce_only = trainer.data_collator(trained)
    trained_positions = (ce_only["labels"][:, 1:] != -100).sum().item()
    ce = trainer.compute_loss(model, dict(ce_only)).item()
    assert mixed_loss.item() == pytest.approx(ce * trained_positions / positions, rel=1e-4)
    # Once the model moves, the replayed positions pull it back: positive loss, and a gradient.
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.1)
    moved = trainer.compute_loss(model, dict(trainer.data_collator(replayed)))
    assert moved.item() > 1e-3
    moved.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters() if p.requires_grad)


def test_token_loss_matches_cross_entropy_and_kl_in_chunks():
    from knowtune.train.loss import token_loss

    torch.manual_seed(0)
    head = torch.nn.Linear(6, 50, bias=False)
    hidden, targets = torch.randn(9, 6, requires_grad=True), torch.randint(0, 50, (9,))
    ce = torch.nn.functional.cross_entropy(head(hidden), targets, reduction="sum")
    for chunk in (4, 100):  # checkpointed chunks and one chunk give the same loss
        total, correct = token_loss(hidden, head, targets, chunk=chunk)
        assert total.item() == pytest.approx(ce.item(), rel=1e-5)
        assert correct == (head(hidden).argmax(-1) == targets).sum()
    # KL against a teacher whose whole distribution is given (top-k = vocabulary) is the exact KL.
    teacher_logits = torch.randn(9, 50)
    on = torch.tensor([True, False] * 4 + [True])
    p = teacher_logits[on].log_softmax(-1)
    top = p.topk(50, dim=-1)
    teacher = {"teacher_on": on, "teacher_ids": top.indices, "teacher_logp": top.values}
    q = head(hidden).log_softmax(-1)
    exact = (p.exp() * (p - q[on])).sum() + torch.nn.functional.cross_entropy(head(hidden)[~on], targets[~on], reduction="sum")
    for chunk in (4, 100):
        assert token_loss(hidden, head, targets, teacher=teacher, chunk=chunk)[0].item() == pytest.approx(exact.item(), rel=1e-4)


def test_eval_steps_is_a_number_of_steps_or_a_share_of_the_run(tiny_llama, qa_file, tmp_path):
    from knowtune.errors import UserError
    from knowtune.train.arguments import trainer_args

    share = make_cfg(tiny_llama, qa_file, tmp_path, "training.eval_steps=0.125")
    assert trainer_args(share, tmp_path, has_eval=True).eval_steps == 0.125
    assert make_cfg(tiny_llama, qa_file, tmp_path, "training.eval_steps=4.0").training.eval_steps == 4
    with pytest.raises(UserError, match="eval_steps"):
        make_cfg(tiny_llama, qa_file, tmp_path, "training.eval_steps=2.5")


def test_replay_distillation_is_refused_where_the_lm_head_is_sharded(tiny_llama, qa_file, tmp_path):
    from knowtune.errors import UserError

    with pytest.raises(UserError, match="replay.loss=ce"):
        make_cfg(tiny_llama, qa_file, tmp_path, "replay.ratio=1.0", "distributed=fsdp")
    assert make_cfg(tiny_llama, qa_file, tmp_path, "replay.ratio=1.0", "replay.loss=ce", "distributed=fsdp")


def test_selection_estimates_the_whole_suite_counting_gains_as_the_verdict_does():
    from knowtune.train.trainer import SUITE, suite_estimate

    share = 202 / 387  # the shipped model answers 202 of the suite's 387 questions
    base = {"eval_retention_contains": 1.0, "eval_retention_missed_contains": 0.0}
    # Epoch 4 of the demo corpus: 30 of the 36 answered questions kept, and 6 of 36 missed ones gained.
    later = {"eval_retention_contains": 30 / 36, "eval_retention_missed_contains": 6 / 36}
    assert suite_estimate(base, share) == pytest.approx(share)
    fall = suite_estimate(base, share) - suite_estimate(later, share)
    assert fall == pytest.approx(share * 6 / 36 - (1 - share) * 6 / 36)  # 6 lost, 6 gained: almost no fall
    assert fall < 1 / 12  # within the verdict's tolerance, where the 36 answered alone (6 lost: 17%) were not
    # selection_summary reads the estimate where the evaluations have it.
    history = [{"step": s, "epoch": e, "eval_heldout_contains": h, "eval_retention_contains": r, SUITE: suite_estimate(
        {"eval_retention_contains": r, "eval_retention_missed_contains": m}, share), "eval_loss": 1.0,
        "eval_selection": selection_score(h, suite_estimate({"eval_retention_contains": r,
                                                             "eval_retention_missed_contains": m}, share), share, 1 / 12)}
               for s, e, h, r, m in [(0, 0, 0.0, 1.0, 0.0), (25, 1, 0.8, 33 / 36, 1 / 36), (50, 2, 0.93, 30 / 36, 6 / 36)]]
    summary = selection_summary(history[1:], 1 / 12, history[0])
    assert summary["base_retention"] == pytest.approx(share)
    assert [p["within_tolerance"] for p in summary["curve"]] == [True, True, True]
    assert summary["chosen_step"] == 50


def test_run_asks_selection_36_suite_questions_the_base_model_misses(tmp_path, monkeypatch):
    from knowtune.evaluate.eval_data import suite_path
    from knowtune.experiments.job import RunConfig, _base_suite

    suite = Path(suite_path("general_knowledge.jsonl")).read_text(encoding="utf-8").splitlines()
    answered = set(range(0, len(suite), 2))  # a base model that answers every other question

    def evaluate(cfg, **kwargs):
        out = Path(cfg.output_dir) / "predictions"
        out.mkdir(parents=True)
        out.joinpath("general_knowledge.jsonl").write_text("".join(
            json.dumps({"index": i, "contains": float(i in answered)}) + "\n" for i in reversed(range(len(suite)))))
        return {"results": {"model": {"general_knowledge": {"contains": len(answered) / len(suite)}}}}

    monkeypatch.setattr("knowtune.evaluate.run.run", evaluate)
    cfg = RunConfig.model_validate({"train_data": [str(tmp_path / "t.jsonl")]})
    share, missed = _base_suite(cfg, SimpleNamespace(model="m", trust_remote_code=False), tmp_path)
    assert share == pytest.approx(len(answered) / len(suite))
    lines = missed.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 36 and len(set(lines)) == 36
    assert all(line in suite and suite.index(line) not in answered for line in lines)
    assert suite.index(lines[0]) < 10 and suite.index(lines[-1]) > len(suite) - 20  # spread over the whole suite
    # A base model that answers every question (or none) leaves nothing to ask: the old tolerance applies.
    answered = set(range(len(suite)))
    assert _base_suite(cfg, SimpleNamespace(model="m", trust_remote_code=False), tmp_path / "all")[1] is None


def test_a_resumed_run_measures_the_baseline_again_when_it_lacks_the_suite_estimate(tmp_path):
    from knowtune.train.recipe import _selection_baseline
    from knowtune.train.trainer import SUITE

    (tmp_path / "selection_baseline.json").write_text(json.dumps({"eval_retention_contains": 1.0}))  # an older run's
    fresh = {"eval_retention_contains": 1.0, "eval_retention_missed_contains": 0.0, SUITE: 0.52}
    trainer = SimpleNamespace(selection_share=0.52, evaluate=lambda: fresh, args=SimpleNamespace(process_index=0))
    assert _selection_baseline(trainer, tmp_path, tmp_path / "checkpoint-4", lambda *a: None) == fresh
    assert json.loads((tmp_path / "selection_baseline.json").read_text()) == fresh
    trainer.evaluate = lambda: pytest.fail("the kept baseline has the estimate: nothing to ask again")
    assert _selection_baseline(trainer, tmp_path, tmp_path / "checkpoint-4", lambda *a: None) == fresh
    trainer.selection_share = None  # no estimate wanted: an older baseline is kept as it is
    (tmp_path / "selection_baseline.json").write_text(json.dumps({"eval_retention_contains": 1.0}))
    assert _selection_baseline(trainer, tmp_path, tmp_path / "checkpoint-4", lambda *a: None) == {"eval_retention_contains": 1.0}


def _base_answers_file(path: Path, missed: list[dict], wrong: set[int]) -> Path:
    """A base model's predictions file as `knowtune eval` writes it: the suite's first 36 questions (those in
    `wrong` answered wrongly) and the `missed` questions, all answered wrongly."""
    rows = [{"index": i, "question": q["question"], "answers": q["answers"],
             "prediction": "I am not sure." if i in wrong else f"It is {q['answers'][0]}."}
            for i, q in enumerate(_suite()[:36])]
    rows += [{"index": 100 + i, "question": q["question"], "answers": q["answers"], "prediction": "I am not sure."}
             for i, q in enumerate(missed)]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in reversed(rows)), encoding="utf-8")
    return path


def test_selection_baseline_reads_the_base_models_suite_answers_and_asks_only_the_rest(tiny_llama, qa_file, tmp_path,
                                                                                       monkeypatch):
    from knowtune.train.trainer import SUITE, suite_estimate

    missed = _suite()[-2:]
    missed_file = tmp_path / "missed.jsonl"
    missed_file.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in missed), encoding="utf-8")
    answers = _base_answers_file(tmp_path / "base.jsonl", missed, wrong={3, 7})
    asked = []

    def scripted(model, tokenizer, datasets, **kwargs):
        asked.append([d.name for d in datasets])
        return [{"exact_match": 0.0, "f1": 0.0, "contains": 1.0} for _ in datasets]

    monkeypatch.setattr("knowtune.evaluate.scoring.generation_metrics_together", scripted)
    from knowtune.train.run import run

    result = run(make_cfg(tiny_llama, qa_file, tmp_path, f"heldout={qa_file}", "selection.retention=true",
                          f"selection.missed={missed_file}", "selection.base_share=0.5", f"selection.base_answers={answers}",
                          "training.num_train_epochs=2", "training.per_device_train_batch_size=8"))
    # The baseline asks the held-out questions only; every evaluation after it asks all three sets.
    assert asked == [["heldout"], ["heldout", "retention", "retention_missed"], ["heldout", "retention", "retention_missed"]]
    baseline = json.loads((result.run_dir / "selection_baseline.json").read_text())
    assert baseline["eval_retention_contains"] == pytest.approx(34 / 36)
    assert baseline["eval_retention_missed_contains"] == 0.0
    assert baseline[SUITE] == pytest.approx(suite_estimate(baseline, 0.5))
    assert result.metrics["selection"]["curve"][0]["retention"] == pytest.approx(0.5 * 34 / 36)


def test_base_answers_lacking_a_question_leave_its_set_to_be_asked(tmp_path):
    from knowtune.evaluate.eval_data import load_eval_dataset
    from knowtune.evaluate.scoring import metrics_from_answers

    missed = _suite()[-2:]
    answers = _base_answers_file(tmp_path / "base.jsonl", missed[:1], wrong=set())
    first = load_eval_dataset(suite_path("general_knowledge.jsonl"), "qa", max_samples=36)
    assert metrics_from_answers([first], answers) == [{"exact_match": pytest.approx(0.0), "f1": pytest.approx(
        sum(_f1(q) for q in _suite()[:36]) / 36), "contains": 1.0}]
    both = tmp_path / "missed.jsonl"
    both.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in missed), encoding="utf-8")
    # the second missed question is not in the file
    assert metrics_from_answers([first, load_eval_dataset(str(both), "qa")], answers)[1] is None


def _f1(question: dict) -> float:
    from knowtune.evaluate.qa_metrics import f1

    return f1(f"It is {question['answers'][0]}.", question["answers"])


def test_a_bad_base_answers_file_names_its_line(tmp_path):
    from knowtune.errors import UserError
    from knowtune.evaluate.eval_data import load_eval_dataset
    from knowtune.evaluate.scoring import metrics_from_answers

    first = load_eval_dataset(suite_path("general_knowledge.jsonl"), "qa", max_samples=36)
    with pytest.raises(UserError, match="no such file"):
        metrics_from_answers([first], tmp_path / "absent.jsonl")
    bad = tmp_path / "base.jsonl"
    bad.write_text('{"question": "q", "prediction": "p"}\n{"question": \n')
    with pytest.raises(UserError, match=r"base\.jsonl:2: not a JSON line"):
        metrics_from_answers([first], bad)
