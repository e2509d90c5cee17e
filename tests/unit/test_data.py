"""Dataset reading, shape checks, loss masks and dataset building, on the tiny in-process tokenizer."""

import json

import pytest
from pydantic import ValidationError

from knowtune.data import (
    EXTRACTION_INSTRUCTION,
    IGNORE_INDEX,
    DataConfig,
    build_datasets,
    load_records,
    to_messages,
    tokenize_chat,
)
from knowtune.errors import UserError
from tiny_models import build_tiny_tokenizer

QA = {"question": "What is the capital of France?", "answer": "Paris", "fact_id": 7}


@pytest.fixture(scope="module")
def tokenizer():
    return build_tiny_tokenizer()


def write_jsonl(path, records):
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def trainable_text(tokenizer, input_ids, labels):
    return tokenizer.decode([t for t, label in zip(input_ids, labels) if label != IGNORE_INDEX])


def test_config_accepts_one_path_and_rejects_unknown_keys():
    assert DataConfig(train="a.jsonl").train == ["a.jsonl"]
    with pytest.raises(ValidationError):
        DataConfig(train="a.jsonl", shuffle=True)
    with pytest.raises(ValidationError):
        DataConfig(train="a.jsonl", validation_split_percentage=60)


@pytest.mark.parametrize(
    "record, shape, expected_text",
    [
        (
            {"messages": [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "world"}]},
            "chat",
            "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\nworld<|im_end|>\n",
        ),
        (
            {"instruction": "Name the capital.", "input": "France", "output": "Paris"},
            "alpaca",
            "<|im_start|>user\nName the capital.\n\nFrance<|im_end|>\n<|im_start|>assistant\nParis<|im_end|>\n",
        ),
        (
            {"question": "Who?", "answer": "Vashti", "context": "Vashti is an engineer."},
            "qa",
            "<|im_start|>user\nVashti is an engineer.\n\nWho?<|im_end|>\n<|im_start|>assistant\nVashti<|im_end|>\n",
        ),
        (
            {"text": "Zorblat met Quennet.", "entities": [{"type": "person", "value": "Zorblat"}]},
            "extraction",
            f"<|im_start|>user\n{EXTRACTION_INSTRUCTION}\n\nZorblat met Quennet.<|im_end|>\n"
            '<|im_start|>assistant\n[{"type": "person", "value": "Zorblat"}]<|im_end|>\n',
        ),
        ({"text": "The quick brown fox."}, "text", "The quick brown fox.<|im_end|>"),
    ],
)
def test_every_shape_from_jsonl(tmp_path, tokenizer, record, shape, expected_text):
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(record) + "\n\n" + json.dumps(record) + "\n", encoding="utf-8")  # blank line skipped
    train, evaluation, stats = build_datasets(DataConfig(train=str(path)), tokenizer)
    assert stats["shape"] == shape and stats["train_records"] == 2 and evaluation is None
    assert tokenizer.decode(train[0]["input_ids"]) == expected_text
    assert json.loads(json.dumps(stats)) == stats


def test_system_prompt_goes_before_converted_records_only():
    cfg = DataConfig(train="x", system_prompt="Be brief.")
    assert to_messages(QA, "qa", cfg) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": QA["question"]},
        {"role": "assistant", "content": "Paris"},
    ]
    chat = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    assert to_messages(chat, "chat", cfg) == chat["messages"]


def test_json_parquet_and_saved_dataset_read_the_same_records(tmp_path):
    import datasets
    import pyarrow
    import pyarrow.parquet

    rows = [QA, {"question": "Who?", "answer": "Vashti", "fact_id": 8}]
    (tmp_path / "a.json").write_text(json.dumps(rows), encoding="utf-8")
    pyarrow.parquet.write_table(pyarrow.Table.from_pylist(rows), tmp_path / "a.parquet")
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "saved"))
    for source, where in [("a.json", "a.json record 2"), ("a.parquet", "a.parquet row 2"), ("saved", "saved row 2")]:
        records = load_records([str(tmp_path / source)])
        assert [r.data for r in records] == rows
        assert records[1].where == f"{tmp_path / where}"
    # A `.json` file that is really JSON Lines is read line by line.
    write_jsonl(tmp_path / "lines.json", rows)
    assert load_records([str(tmp_path / "lines.json")])[1] == (rows[1], f"{tmp_path / 'lines.json'}:2")


def test_multi_split_saved_dataset_gives_train_or_eval_split(tmp_path):
    import datasets

    splits = datasets.DatasetDict(
        {"train": datasets.Dataset.from_list([QA]), "test": datasets.Dataset.from_list([QA] * 2)}
    )
    splits.save_to_disk(str(tmp_path / "dd"))
    assert len(load_records([str(tmp_path / "dd")])) == 1
    held_out = load_records([str(tmp_path / "dd")], splits=("validation", "test"))
    assert len(held_out) == 2 and held_out[1].where == f"{tmp_path / 'dd'} [test] row 2"


def test_folder_of_txt_files_gives_one_text_record_per_file(tmp_path, tokenizer):
    (tmp_path / "docs" / "sub").mkdir(parents=True)
    (tmp_path / "docs" / "a.txt").write_text("hello world", encoding="utf-8")
    (tmp_path / "docs" / "sub" / "b.txt").write_text("the lazy dog", encoding="utf-8")
    (tmp_path / "docs" / "notes.md").write_text("ignored", encoding="utf-8")
    records = load_records([str(tmp_path / "docs")], text_column="body")
    assert [r.data for r in records] == [{"body": "hello world"}, {"body": "the lazy dog"}]
    _, _, stats = build_datasets(DataConfig(train=str(tmp_path / "docs"), text_column="body"), tokenizer)
    assert stats["shape"] == "text" and stats["train_samples"] == 2


def test_single_turn_qa_trains_exactly_the_answer_and_end_of_turn(tmp_path, tokenizer):
    train, _, stats = build_datasets(DataConfig(train=str(write_jsonl(tmp_path / "t.jsonl", [QA]))), tokenizer)
    assert trainable_text(tokenizer, train[0]["input_ids"], train[0]["labels"]) == "Paris<|im_end|>\n"
    assert stats["trainable_tokens"] == sum(label != IGNORE_INDEX for label in train[0]["labels"])


def test_multi_turn_chat_trains_every_assistant_turn_and_no_user_token(tokenizer):
    messages = [
        {"role": "system", "content": "Answer."},
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Paris"},
        {"role": "user", "content": "Who is the engineer?"},
        {"role": "assistant", "content": "Vashti"},
    ]
    ids, labels = tokenize_chat(messages, tokenizer)
    assert trainable_text(tokenizer, ids, labels) == "Paris<|im_end|>\nVashti<|im_end|>\n"
    ids_all, labels_all = tokenize_chat(messages, tokenizer, train_on="all")
    assert ids_all == ids and labels_all == ids


def test_a_batch_is_rendered_fast_and_exactly_as_apply_chat_template_renders_it(monkeypatch, tokenizer):
    from knowtune.data import tokenize as tokenize_module

    conversations = [
        [{"role": "user", "content": f"Question {n}?"}, {"role": "assistant", "content": f"Answer {n}."}] for n in range(3)
    ] + [[{"role": "system", "content": "Answer."}, {"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A"},
          {"role": "user", "content": "Again?"}, {"role": "assistant", "content": "B"}]]
    used = []
    real = tokenize_module._fast_renderer
    monkeypatch.setattr(tokenize_module, "_fast_renderer", lambda *a: used.append(real(*a)) or used[-1])
    fast = tokenize_module.tokenize_chats(conversations, tokenizer)
    assert used and used[0] is not None  # the direct rendering was taken

    monkeypatch.setattr(tokenize_module, "_fast_renderer", lambda *a: None)
    assert fast == tokenize_module.tokenize_chats(conversations, tokenizer)  # apply_chat_template, one by one

    # A direct rendering that differs from apply_chat_template's on the batch's first record is not used.
    monkeypatch.setattr(tokenize_module, "_fast_renderer", real)
    monkeypatch.setattr(tokenize_module, "chat_template_renderer", lambda tok: lambda messages, prompt: "wrong")
    assert fast == tokenize_module.tokenize_chats(conversations, tokenizer)


def test_prefix_inconsistent_template_is_a_user_error(tokenizer):
    tok = build_tiny_tokenizer()
    tok.chat_template = "{{ messages|length }}" + tok.chat_template  # rendering depends on the turn count
    with pytest.raises(UserError, match="differently"):
        tokenize_chat([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], tok, where="f:1")


def test_missing_chat_template_needs_data_chat_template(tmp_path):
    path = str(write_jsonl(tmp_path / "t.jsonl", [QA]))
    tok = build_tiny_tokenizer()
    tok.chat_template = None
    with pytest.raises(UserError, match="chat_template"):
        build_datasets(DataConfig(train=path), tok)
    train, _, _ = build_datasets(DataConfig(train=path, chat_template="chatml"), tok)
    assert tok.decode(train[0]["input_ids"]).startswith("<|im_start|>user\n")


def test_truncation_that_leaves_no_answer_drops_and_counts_the_sample(tmp_path, tokenizer):
    long_question = {"question": "What is the capital of France? " * 20, "answer": "Paris"}
    path = str(write_jsonl(tmp_path / "t.jsonl", [QA, long_question]))
    train, _, stats = build_datasets(DataConfig(train=path, max_seq_length=40), tokenizer)
    assert (stats["train_samples"], stats["dropped_no_trainable_tokens"], stats["truncated"]) == (1, 1, 1)
    assert max(len(ids) for ids in train["input_ids"]) <= 40
    with pytest.raises(UserError, match="no training samples left"):
        only_long = str(write_jsonl(tmp_path / "u.jsonl", [long_question]))
        build_datasets(DataConfig(train=only_long, max_seq_length=40), tokenizer)


def test_text_blocks_cover_every_token(tmp_path, tokenizer):
    text = "The quick brown fox jumps over the lazy dog. " * 5
    train, _, stats = build_datasets(
        DataConfig(train=str(write_jsonl(tmp_path / "t.jsonl", [{"text": text}])), max_seq_length=8), tokenizer
    )
    blocks = train["input_ids"]
    assert all(len(block) <= 8 for block in blocks) and len(blocks) > 3
    assert sum(blocks, []) == tokenizer(text)["input_ids"] + [tokenizer.eos_token_id]
    assert train["labels"] == blocks and stats["train_tokens"] == stats["trainable_tokens"]


def test_dataset_size_and_validation_split(tmp_path, tokenizer):
    records = [{"question": f"Question {i}?", "answer": str(i)} for i in range(20)]
    path = str(write_jsonl(tmp_path / "t.jsonl", records))
    _, evaluation, stats = build_datasets(DataConfig(train=path, validation_split_percentage=25), tokenizer)
    assert (stats["train_records"], stats["eval_records"], stats["eval_source"]) == (15, 5, "split")
    _, capped_eval, capped = build_datasets(
        DataConfig(train=path, validation_split_percentage=25, dataset_size=4), tokenizer
    )
    assert (capped["train_records"], capped["train_samples"], capped["eval_records"]) == (4, 4, 5)
    assert capped_eval["input_ids"] == evaluation["input_ids"]  # same held-out set whatever the dataset_size
    eval_path = str(write_jsonl(tmp_path / "e.jsonl", records[:3]))
    _, evaluation, stats = build_datasets(
        DataConfig(train=path, eval=eval_path, validation_split_percentage=25), tokenizer
    )
    assert (stats["train_records"], stats["eval_samples"], stats["eval_source"]) == (20, 3, "files")


def _bad_parquet(path):
    import pyarrow
    import pyarrow.parquet

    pyarrow.parquet.write_table(pyarrow.Table.from_pylist([QA, {**QA, "answer": None}]), path)


CHAT_OK = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("train.jsonl", f'{json.dumps(QA)}\n{json.dumps(QA)}\n{{"question": "x",\n', ["train.jsonl:3", "invalid JSON"]),
        ("train.jsonl", f"{json.dumps(QA)}\n[1, 2]\n", ["train.jsonl:2", "JSON object", "list"]),
        ("train.jsonl", f'{json.dumps(QA)}\n{{"question": "q"}}\n', ["train.jsonl:2", "'answer'", "qa shape"]),
        (
            "train.jsonl",
            f'{json.dumps(QA)}\n{{"question": "q", "answer": 4}}\n',
            ["train.jsonl:2: field 'answer' must be a string, got int"],
        ),
        (
            "train.jsonl",
            json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "bot", "content": "a"}]}),
            ["train.jsonl:1", "messages[1].role", "'bot'"],
        ),
        (
            "train.jsonl",
            json.dumps({"messages": [{"role": "user", "content": "q"}]}),
            ["train.jsonl:1", "'messages'", "no assistant turn"],
        ),
        (
            "train.jsonl",
            f'{json.dumps(CHAT_OK)}\n{json.dumps({"messages": [{"role": "user", "content": 3}]})}',
            ["train.jsonl:2", "messages[0].content", "got int"],
        ),
        (
            "train.jsonl",
            json.dumps({"text": "Zorblat", "entities": [{"type": "person", "value": 1}]}),
            ["train.jsonl:1", "entities[0].value", "got int"],
        ),
        ("train.jsonl", "\n\n", ["train.jsonl", "no records"]),
        (
            "train.jsonl",
            '{"prompt": "a", "completion": "b"}',
            ["train.jsonl:1", "prompt, completion", "qa (question", "data.format"],
        ),
        ("train.jsonl", b'{"text": "ok"}\n{"text": "caf\xe9"}\n', ["train.jsonl:2", "not UTF-8"]),
        ("train.csv", "question,answer\n", ["train.csv", "unsupported file type"]),
        ("train.json", json.dumps([QA, {**QA, "answer": ["Paris"]}]), ["train.json record 2", "'answer'", "got list"]),
        ("train.json", '[\n{"question": "a",\n "answer" "b"}\n]', ["train.json:3", "invalid JSON"]),
        ("train.parquet", _bad_parquet, ["train.parquet row 2", "'answer'"]),
    ],
)
def test_bad_data_is_a_user_error_naming_file_line_and_field(tmp_path, tokenizer, name, content, expected):
    path = tmp_path / name
    if callable(content):
        content(path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(UserError) as info:
        build_datasets(DataConfig(train=str(path)), tokenizer)
    message = str(info.value)
    assert "\n" not in message
    for part in expected:
        assert part in message


def test_missing_paths_and_hub_names(tmp_path, monkeypatch, tokenizer):
    import datasets

    with pytest.raises(UserError, match="missing.jsonl: no such file"):
        build_datasets(DataConfig(train=str(tmp_path / "missing.jsonl")), tokenizer)

    def unreachable(name, **kwargs):
        raise ConnectionError(f"Couldn't reach '{name}' on the Hub")

    monkeypatch.setattr(datasets, "load_dataset", unreachable)
    with pytest.raises(UserError, match="'someorg/facts' is neither a local path nor a dataset reachable on the Hub"):
        build_datasets(DataConfig(train="someorg/facts"), tokenizer)
