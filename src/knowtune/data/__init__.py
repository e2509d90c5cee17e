"""Datasets: read files in the supported shapes, check every record, build tokenized train/eval sets."""

from knowtune.data.build import build_datasets
from knowtune.data.config import DataConfig
from knowtune.data.load import Record, load_records
from knowtune.data.shapes import EXTRACTION_INSTRUCTION, detect_shape, to_messages, validate_record
from knowtune.data.tokenize import (
    IGNORE_INDEX,
    ensure_chat_template,
    tokenize_chat,
    tokenize_text,
)

__all__ = [
    "DataConfig",
    "EXTRACTION_INSTRUCTION",
    "IGNORE_INDEX",
    "Record",
    "build_datasets",
    "detect_shape",
    "ensure_chat_template",
    "load_records",
    "to_messages",
    "tokenize_chat",
    "tokenize_text",
    "validate_record",
]
