"""Record shapes: detect which one a record has, check it field by field, turn it into a chat.

Shapes: chat (`messages`), alpaca (`instruction`, `output`, optional `input`), qa (`question`,
`answer`, optional `context`), extraction (`text` + `entities`), text (the configured text
column). Everything but text becomes a list of OpenAI-style messages, so a single chat template
path formats all of them. Fields holding null count as absent: Parquet and `datasets` fill the
columns a row lacks with null.
"""

from __future__ import annotations

import json

from knowtune.data.config import DataConfig
from knowtune.data.load import Record
from knowtune.errors import UserError

# Reused by evaluation to prompt for entities exactly as the model was trained to answer.
EXTRACTION_INSTRUCTION = (
    "Extract the named entities from the text below. Answer with a JSON list of objects with the keys "
    '"type" and "value", in the order they appear in the text, or [] if there are none.'
)
ROLES = ("system", "user", "assistant")
SHAPES = ("chat", "alpaca", "qa", "extraction", "text")  # detection order: extraction records also have `text`


def _fields(shape: str, text_column: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(required, optional) string-or-structured fields of a shape."""
    return {
        "chat": (("messages",), ()),
        "alpaca": (("instruction", "output"), ("input",)),
        "qa": (("question", "answer"), ("context",)),
        "extraction": (("text", "entities"), ()),
        "text": ((text_column,), ()),
    }[shape]


def _describe(shape: str, text_column: str) -> str:
    required, optional = _fields(shape, text_column)
    return ", ".join(list(required) + [f"optional {name}" for name in optional])


def _type_name(value) -> str:
    return "null" if value is None else type(value).__name__


def _present(data: dict) -> set[str]:
    return {key for key, value in data.items() if value is not None}


def detect_shape(record: Record, text_column: str = "text") -> str:
    """The shape of one record, from which fields it has."""
    _require_object(record)
    present = _present(record.data)
    for shape in SHAPES:
        if set(_fields(shape, text_column)[0]) <= present:
            return shape
    expected = "; ".join(f"{shape} ({_describe(shape, text_column)})" for shape in SHAPES)
    raise UserError(
        f"{record.where}: cannot tell the dataset shape from the fields [{', '.join(record.data)}]; "
        f"expected one of: {expected}; set data.format to name the shape"
    )


def validate_record(record: Record, shape: str, text_column: str = "text", train_on: str = "assistant") -> None:
    """Raise a UserError naming the record's location and field if it does not fit `shape`."""
    _require_object(record)
    data, where = record.data, record.where
    required, optional = _fields(shape, text_column)
    present = _present(data)
    for name in required:
        if name not in present:
            raise UserError(
                f"{where}: missing required field '{name}' for the {shape} shape ({_describe(shape, text_column)})"
            )
    for name in required + optional:
        if name in present and name not in ("messages", "entities") and not isinstance(data[name], str):
            raise UserError(f"{where}: field '{name}' must be a string, got {_type_name(data[name])}")
    if shape == "chat":
        _validate_messages(data["messages"], where, train_on)
    if shape == "extraction":
        _validate_entities(data["entities"], where)


def _require_object(record: Record) -> None:
    if not isinstance(record.data, dict):
        raise UserError(f"{record.where}: a record must be a JSON object, got {_type_name(record.data)}")


def _validate_messages(messages, where: str, train_on: str) -> None:
    if not isinstance(messages, list):
        raise UserError(f"{where}: field 'messages' must be a list, got {_type_name(messages)}")
    if not messages:
        raise UserError(f"{where}: field 'messages' is an empty list")
    for index, message in enumerate(messages):
        field = f"messages[{index}]"
        if not isinstance(message, dict):
            raise UserError(
                f"{where}: field '{field}' must be an object with role and content, got {_type_name(message)}"
            )
        role = message.get("role")
        if role not in ROLES:
            found = "missing" if role is None else repr(role)
            raise UserError(f"{where}: field '{field}.role' is {found}; expected one of {', '.join(ROLES)}")
        content = message.get("content")
        if not isinstance(content, str):
            raise UserError(f"{where}: field '{field}.content' must be a string, got {_type_name(content)}")
    if train_on == "assistant" and not any(m["role"] == "assistant" for m in messages):
        raise UserError(
            f"{where}: field 'messages' has no assistant turn, so nothing would be trained (data.train_on=assistant)"
        )


def _validate_entities(entities, where: str) -> None:
    if not isinstance(entities, list):
        raise UserError(
            f"{where}: field 'entities' must be a list of {{type, value}} objects, got {_type_name(entities)}"
        )
    for index, entity in enumerate(entities):
        field = f"entities[{index}]"
        if not isinstance(entity, dict):
            raise UserError(f"{where}: field '{field}' must be an object with type and value, got {_type_name(entity)}")
        for key in ("type", "value"):
            if not isinstance(entity.get(key), str):
                raise UserError(f"{where}: field '{field}.{key}' must be a string, got {_type_name(entity.get(key))}")


def to_messages(data: dict, shape: str, cfg: DataConfig) -> list[dict[str, str]]:
    """The conversation a validated record stands for; the assistant answer is the last message."""
    if shape == "chat":
        # Keep only role and content: Parquet rows carry null-filled extra keys that templates would print.
        return [{"role": m["role"], "content": m["content"]} for m in data["messages"]]
    if shape == "alpaca":
        user = data["instruction"] + (f"\n\n{data['input']}" if data.get("input") else "")
        answer = data["output"]
    elif shape == "qa":
        user = f"{data['context']}\n\n{data['question']}" if data.get("context") else data["question"]
        answer = data["answer"]
    elif shape == "extraction":
        user = f"{EXTRACTION_INSTRUCTION}\n\n{data['text']}"
        entities = [{"type": e["type"], "value": e["value"]} for e in data["entities"]]
        answer = json.dumps(entities, ensure_ascii=False)
    else:
        raise ValueError(f"a {shape} record is not a conversation")
    system = [{"role": "system", "content": cfg.system_prompt}] if cfg.system_prompt is not None else []
    return system + [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
