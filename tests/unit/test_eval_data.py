"""Eval datasets: metric inference, gold answers, prompts, records left out with their location, the shipped suite."""

import json

import pytest

from knowtune.errors import UserError
from knowtune.evaluate.config import split_metric
from knowtune.evaluate.eval_data import DEFAULT_SUITE, load_eval_dataset, suite_path


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    "record, metric",
    [
        ({"question": "Q?", "answer": "A"}, "qa"),
        ({"messages": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A"}]}, "qa"),
        ({"instruction": "Say A", "output": "A"}, "qa"),
        ({"text": "Ada met Bob.", "entities": [{"type": "PERSON", "value": "Ada"}]}, "extraction"),
        ({"text": "Plain text."}, "perplexity"),
    ],
)
def test_metric_follows_the_fields(tmp_path, record, metric):
    assert load_eval_dataset(write_jsonl(tmp_path / "d.jsonl", [record])).metric == metric


def test_unknown_fields_name_the_file_line_and_the_way_out(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"prompt": "Q?", "completion": "A"}])
    with pytest.raises(UserError, match=r"d\.jsonl:1: cannot tell the metric .*PATH:qa"):
        load_eval_dataset(path)


def test_split_metric_keeps_colons_that_are_not_a_metric():
    assert split_metric("data/heldout.jsonl:qa") == ("data/heldout.jsonl", "qa")
    assert split_metric(r"C:\data\notes.txt") == (r"C:\data\notes.txt", "auto")
    assert split_metric("a:b.jsonl:extraction") == ("a:b.jsonl", "extraction")


def test_qa_golds_prompts_and_records_left_out(tmp_path):
    path = write_jsonl(tmp_path / "qa.jsonl", [
        {"question": "Capital of France?", "answers": ["Paris", "Paris, France"]},
        {"question": "Who?", "context": "Ada wrote it.", "answer": "Ada"},
        {"question": "SQuAD style?", "answers": {"text": ["yes", "indeed"], "answer_start": [0, 0]}},
        {"question": "No answer field?"},
        {"question": "Empty list?", "answers": []},
        {"question": "Blank?", "answer": "  "},
        {"question": "Wrong type?", "answers": [1, 2]},
        ["not", "an", "object"],
    ])
    d = load_eval_dataset(path, system_prompt="Be brief.")
    assert [item.gold for item in d.items] == [["Paris", "Paris, France"], ["Ada"], ["yes", "indeed"]]
    assert d.items[0].prompt == [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of France?"},
    ]
    assert d.items[1].prompt[-1] == {"role": "user", "content": "Ada wrote it.\n\nWho?"}
    assert d.items[0].shown == {"question": "Capital of France?"}
    assert d.records == 8
    assert d.problems == [
        f"{path}:4: missing its answer field ('answer' or 'answers')",
        f"{path}:5: field 'answers' is an empty gold answer list",
        f"{path}:6: field 'answer' is empty",
        f"{path}:7: field 'answers' must be a string or a list of strings",
        f"{path}:8: a record must be a JSON object, got list",
    ]


def test_chat_and_alpaca_records_are_continued_up_to_their_last_answer(tmp_path):
    chat = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                         {"role": "user", "content": "Capital of France?"}, {"role": "assistant", "content": "Paris"}]}
    no_answer = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                              {"role": "user", "content": "And?"}]}
    d = load_eval_dataset(write_jsonl(tmp_path / "chat.jsonl", [chat, no_answer]))
    assert d.items[0].prompt == chat["messages"][:-1]
    assert d.items[0].gold == ["Paris"]
    assert d.problems == [f"{tmp_path / 'chat.jsonl'}:2: the last message must be the assistant's answer, the gold to score against"]
    a = load_eval_dataset(write_jsonl(tmp_path / "alpaca.jsonl", [{"instruction": "Name it", "input": "a city", "output": "Oslo"}]))
    assert a.items[0].prompt == [{"role": "user", "content": "Name it\n\na city"}]
    assert a.items[0].gold == ["Oslo"]


def test_extraction_and_text_records(tmp_path):
    ok = {"text": "Ada met Bob.", "entities": [{"type": "PERSON", "value": "Ada"}, {"type": "PERSON", "value": "Bob"}]}
    bad = {"text": "x", "entities": [{"type": "PERSON"}]}
    d = load_eval_dataset(write_jsonl(tmp_path / "ner.jsonl", [ok, bad]))
    assert d.items[0].gold == [("PERSON", "Ada"), ("PERSON", "Bob")]
    assert d.items[0].prompt[-1]["content"].endswith("\n\nAda met Bob.")
    assert len(d.problems) == 1 and "ner.jsonl:2: field 'entities[0].value'" in d.problems[0]
    t = load_eval_dataset(write_jsonl(tmp_path / "t.jsonl", [{"body": "Some text."}, {"body": ""}, {"other": 1}]),
                          text_column="body", metric="perplexity")
    assert [item.gold for item in t.items] == ["Some text."]
    assert [p.split(": ", 1)[1] for p in t.problems] == ["text field 'body' is empty", "text field 'body' is missing"]


def test_max_samples_takes_the_first_records_and_fingerprints_the_file(tmp_path):
    import hashlib

    path = write_jsonl(tmp_path / "qa.jsonl", [{"question": f"Q{i}?", "answer": f"A{i}"} for i in range(5)])
    d = load_eval_dataset(path, max_samples=2)
    assert [item.gold for item in d.items] == [["A0"], ["A1"]]
    assert d.sha256 == hashlib.sha256((tmp_path / "qa.jsonl").read_bytes()).hexdigest()


def test_the_shipped_suite_loads():
    found = {filename: load_eval_dataset(suite_path(filename), metric) for filename, metric in DEFAULT_SUITE}
    questions = found["general_knowledge.jsonl"]
    assert questions.metric == "qa" and not questions.problems
    assert len(questions.items) >= 300
    text = found["reference_text.txt"]
    assert text.metric == "perplexity" and len(text.items) == 1 and len(text.items[0].gold.split()) > 300
