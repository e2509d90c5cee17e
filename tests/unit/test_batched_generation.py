"""Batched generation and the QA check, on a tiny random model."""

import json

import pytest

from knowtune.errors import UserError
from knowtune.evaluate import qa_check
from knowtune.models.generate import SHARED_PREFIX_MIN, _plain_greedy, common_prefix, generate_answers, greedy_rows
from knowtune.evaluate.qa_check import evaluate_qa, load_qa_file
from knowtune.models import load_model, load_tokenizer
from tiny_models import build_tiny_model

SYSTEM = "You are a careful assistant. Answer the question in one short sentence. "
PROMPTS = [
    "hello",
    "What is the capital of France?",
    "The quick brown fox jumps over the lazy dog. Question answer context instruction",
    "Zorblat",
    "Paris is the capital.",
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = str(build_tiny_model(tmp_path_factory.mktemp("tiny")))
    return load_model(path), load_tokenizer(path)


@pytest.mark.slow
def test_batched_generation_equals_one_prompt_at_a_time(tiny):
    model, tokenizer = tiny
    tokenizer.padding_side = "right"
    model.train()

    # Batches of 3 mix prompts of different lengths, so left padding is exercised.
    batched = generate_answers(model, tokenizer, PROMPTS, batch_size=3, max_new_tokens=12)
    alone = [generate_answers(model, tokenizer, [p], batch_size=1, max_new_tokens=12)[0] for p in PROMPTS]

    assert batched == alone
    assert len(set(batched)) > 1  # distinct answers, so a mix-up of the order would show
    assert tokenizer.padding_side == "right"
    assert model.training  # the caller's mode is restored


def _generate_tokens(model, batch, eos, max_new_tokens, **extra) -> list[list[int]]:
    """model.generate's new tokens per row, up to (not including) the end-of-turn token."""
    import torch

    with torch.inference_mode():
        out = model.generate(**batch, max_new_tokens=max_new_tokens, eos_token_id=eos, pad_token_id=eos,
                             do_sample=False, **extra)
    rows = out[:, batch["input_ids"].shape[1]:].tolist()
    return [row[: row.index(eos)] if eos in row else row for row in rows]


@pytest.mark.slow
@pytest.mark.parametrize("arch,system", [("llama", ""), ("qwen2", ""), ("llama", SYSTEM), ("qwen2", SYSTEM)])
def test_rows_that_end_leave_the_batch_and_the_answers_are_model_generates(tmp_path, arch, system):
    import torch

    path = str(build_tiny_model(tmp_path, arch=arch))
    model, tokenizer = load_model(path), load_tokenizer(path)
    model.eval()
    texts = [system + f"{p} {i}" * (1 + i % 3) for i, p in enumerate(PROMPTS * 3)]
    batch = tokenizer(texts, add_special_tokens=False, padding=True, padding_side="left", return_tensors="pt")
    # With a system prompt every row starts with, that prefix is run once and shared by the rows.
    assert (common_prefix(batch["input_ids"], batch["attention_mask"]) >= SHARED_PREFIX_MIN) == bool(system)
    # A random model never writes its end-of-turn token: make a token the rows write at different
    # steps the end, so that rows end early, at different steps, and others run to the limit.
    free = _generate_tokens(model, batch, tokenizer.eos_token_id, 16)
    firsts = {}
    for row in free:
        for step, token in enumerate(row):
            firsts.setdefault(token, []).append(step)
    eos = max(firsts, key=lambda t: (len(set(firsts[t])), len(firsts[t])))
    expected = _generate_tokens(model, batch, eos, 16)
    assert len({len(row) for row in expected}) >= 3 and any(len(row) == 16 for row in expected)

    with torch.inference_mode():
        rows = greedy_rows(model, batch["input_ids"], batch["attention_mask"], eos, 16)
    assert rows == expected


def test_a_generation_config_that_changes_the_logits_goes_through_generate(tiny, monkeypatch):
    from knowtune.models import generate

    model, tokenizer = tiny
    calls = []
    real = generate.greedy_rows
    monkeypatch.setattr(generate, "greedy_rows", lambda *a, **k: calls.append(1) or real(*a, **k))
    plain = generate_answers(model, tokenizer, PROMPTS, max_new_tokens=8)
    assert calls and _plain_greedy(model)

    calls.clear()
    model.generation_config.repetition_penalty = 1.3  # model.generate applies it even when greedy
    try:
        penalised = generate_answers(model, tokenizer, PROMPTS, max_new_tokens=8)
        assert not calls and not _plain_greedy(model)
    finally:
        model.generation_config.repetition_penalty = None
    assert penalised != plain


def test_no_prompts_get_no_answers(tiny):
    # An export check whose retention questions the run's model all missed asks nothing.
    model, tokenizer = tiny
    assert generate_answers(model, tokenizer, [], batch_size=3, max_new_tokens=4) == []


def test_evaluate_qa_scores_predictions(monkeypatch, tiny):
    model, tokenizer = tiny
    replies = ["It was cast in 1743.", "Paris", "I do not know."]
    seen = {}

    def fake_generate(model_, tokenizer_, prompts, batch_size, max_new_tokens):
        seen.update(prompts=prompts, batch_size=batch_size, max_new_tokens=max_new_tokens)
        return replies

    monkeypatch.setattr(qa_check, "generate_answers", fake_generate)
    records = [
        {"question": "When was the bell cast?", "answer": "1743"},
        {"question": "Capital of France?", "answer": "Paris"},
        {"question": "Where is Tarnwick based?", "answer": "Oskerby"},
    ]
    result = evaluate_qa(model, tokenizer, records, batch_size=2, max_new_tokens=16)

    assert seen == {"prompts": [r["question"] for r in records], "batch_size": 2, "max_new_tokens": 16}
    assert result["n"] == 3
    assert result["accuracy"] == pytest.approx(2 / 3)
    assert result["exact_match"] == pytest.approx(1 / 3)
    # F1 per record: [it, was, cast, in, 1743] vs [1743] = 1/3; 1; 0
    assert result["f1"] == pytest.approx((1 / 3 + 1 + 0) / 3)
    assert [p["correct"] for p in result["predictions"]] == [True, True, False]
    assert result["predictions"][0] == {
        "question": "When was the bell cast?",
        "answer": "1743",
        "prediction": "It was cast in 1743.",
        "correct": True,
    }


@pytest.mark.slow
def test_evaluate_qa_runs_the_real_generation(tiny):
    model, tokenizer = tiny
    result = evaluate_qa(model, tokenizer, [{"question": "hello", "answer": "Zorblat"}], max_new_tokens=4)
    assert result["n"] == 1
    assert result["predictions"][0]["prediction"] == generate_answers(model, tokenizer, ["hello"], max_new_tokens=4)[0]


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_qa_file_keeps_extra_fields_and_skips_blank_lines(tmp_path):
    path = _write(
        tmp_path / "qa.jsonl",
        [json.dumps({"question": "Q1?", "answer": "A1", "fact_id": "f1"}), "", json.dumps({"question": "Q2?", "answer": "A2"})],
    )
    assert load_qa_file(path) == [
        {"question": "Q1?", "answer": "A1", "answers": ["A1"], "fact_id": "f1"},
        {"question": "Q2?", "answer": "A2", "answers": ["A2"]},
    ]


def test_load_qa_file_takes_a_list_of_accepted_answers_as_knowtune_eval_does(tmp_path):
    path = _write(tmp_path / "qa.jsonl", [json.dumps({"question": "How high?", "answers": ["2,340 metres", "2340 m"]}),
                                          json.dumps({"question": "Who?", "answer": ["Agnes Pell", "Pell"]})])
    first, second = load_qa_file(path)
    assert first["answer"] == "2,340 metres" and first["answers"] == ["2,340 metres", "2340 m"]
    assert second["answers"] == ["Agnes Pell", "Pell"]


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ('{"question": "Q?", "answer": ', "invalid JSON"),
        ('{"question": "Q?"}', "missing its answer field ('answer' or 'answers')"),
        ('{"question": "Q?", "answer": [1]}', "field 'answer' must be a string or a list of strings"),
        ('{"question": "Q?", "answers": []}', "field 'answers' is an empty gold answer list"),
        ('{"answer": "A"}', "field 'question' is missing"),
        ('["Q?", "A"]', "expected a JSON object"),
    ],
)
def test_load_qa_file_names_file_and_line(tmp_path, bad_line, message):
    good = json.dumps({"question": "Q?", "answer": "A"})
    path = _write(tmp_path / "qa.jsonl", [good, "", bad_line])
    with pytest.raises(UserError) as err:
        load_qa_file(path)
    assert f"{path}:3:" in str(err.value)
    assert message in str(err.value)


def test_load_qa_file_rejects_an_empty_file(tmp_path):
    path = _write(tmp_path / "qa.jsonl", [""])
    with pytest.raises(UserError, match="has no records"):
        load_qa_file(path)


@pytest.mark.slow
def test_an_answer_ended_early_is_the_start_of_the_whole_one(tiny):
    import torch

    model, tokenizer = tiny
    model.eval()
    batch = tokenizer([f"{p} {i}" for i, p in enumerate(PROMPTS)], add_special_tokens=False, padding=True,
                      padding_side="left", return_tensors="pt")
    with torch.inference_mode():
        whole = greedy_rows(model, batch["input_ids"], batch["attention_mask"], None, 12)
        ends = [lambda ids: len(ids) == 3, None, lambda ids: len(ids) == 7, lambda ids: False, None]
        ended = greedy_rows(model, batch["input_ids"], batch["attention_mask"], None, 12, ends)
    assert [len(row) for row in whole] == [12] * len(PROMPTS)
    assert ended == [whole[0][:3], whole[1], whole[2][:7], whole[3], whole[4]]


@pytest.mark.parametrize("text,accepted,ends_after", [
    ("The answer is 25 and more", ["25"], " and"),  # ends on the token that starts the next word
    ("The answer is 250 and more", ["25"], None),  # "25" then "0": never (contains("... 250", "25") is false)
    ("It is 25. Then", ["25"], " Then"),  # "." could still be followed by "0" ("25.0" normalises to "250")
    ("The capital is New York City now", ["new york"], " City"),
    ("答案是绿色的颜色", ["绿色"], "的"),  # a CJK character is a word of its own
    ("No answer here at all", ["Paris"], None),
])
def test_answered_check_ends_only_where_the_whole_answer_contains_it_too(text, accepted, ends_after):
    from knowtune.evaluate.qa_metrics import contains
    from knowtune.evaluate.scoring import answered_check

    from knowtune.models import resolve_model

    tokenizer = load_tokenizer(resolve_model("smollm2-135m-instruct"))  # its byte-level BPE, CJK split into bytes
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    check = answered_check(tokenizer, accepted)
    first = next((k for k in range(1, len(ids) + 1) if check(ids[:k])), None)
    if ends_after is None:
        assert first is None and not contains(text, accepted)
    else:
        assert tokenizer.decode(ids[first - 1:first]).startswith(ends_after)
        assert contains(tokenizer.decode(ids[:first]), accepted) and contains(text, accepted)
        assert not any(check(ids[:k]) for k in range(1, first))


def test_knowtunes_wide_cpu_batches_are_spread_evenly_and_other_sizes_kept():
    from knowtune.models.generate import GENERATION_BATCH, balanced

    assert GENERATION_BATCH == 128
    assert [balanced(n, 128) for n in (50, 128, 129, 200, 387, 450)] == [128, 128, 129, 100, 129, 113]
    assert balanced(387, 128, shrink_on_oom=True) == 128  # a GPU's size is its memory's
    assert balanced(387, 64) == 64 and balanced(20, 8) == 8  # a size someone chose
