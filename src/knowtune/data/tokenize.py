"""Records to training samples: chat rendering, loss masks, truncation, text blocks, the datasets.

A chat is rendered by the tokenizer's own chat template, never formatted by hand, so training
sees exactly the text the model sees at inference. The loss mask comes from character spans:
each assistant turn is the text that rendering the conversation up to and including that turn
adds after rendering it up to the turn's generation prompt. This holds for any template whose
renderings of a conversation's prefixes are prefixes of the full rendering, and it covers the
template's end-of-turn tokens, so the model learns to stop.
"""

from __future__ import annotations


import jinja2

from knowtune.data.config import DataConfig
from knowtune.data.load import parse_record
from knowtune.data.shapes import to_messages, validate_record
from knowtune.errors import UserError
from knowtune.models import CHATML_TEMPLATE
from knowtune.upstream import chat_template_renderer

IGNORE_INDEX = -100  # the label value that transformers' loss skips
# A token spans far fewer characters than this, so a message's text past max_seq_length * this many
# characters can only be cut away: it is cut before tokenizing, and a 100 MB line costs what a short one does.
MAX_CHARS_PER_TOKEN = 100


def ensure_chat_template(tokenizer, cfg: DataConfig) -> None:
    """Give the tokenizer `cfg.chat_template` when it has none (it then saves with the model)."""
    if tokenizer.chat_template:
        return
    if cfg.chat_template is None:
        raise UserError(
            "the tokenizer has no chat template, which chat, alpaca, qa and extraction data need; "
            "set data.chat_template to a Jinja template or to chatml"
        )
    tokenizer.chat_template = CHATML_TEMPLATE if cfg.chat_template == "chatml" else cfg.chat_template


def _render(tokenizer, messages: list[dict], where: str, add_generation_prompt: bool = False, fast=None) -> str:
    try:
        if fast is not None:
            return fast(messages, add_generation_prompt)
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
    except (jinja2.TemplateError, ValueError) as e:  # templates reject e.g. non-alternating roles
        raise UserError(f"{where}: the chat template cannot render this conversation: {e}") from e


def _fast_renderer(tokenizer, sample: list[dict]):
    """The chat template rendered directly (upstream.chat_template_renderer), where it renders `sample` and its
    prompt exactly as apply_chat_template does; None (apply_chat_template for every record) where it does not."""
    try:
        fast = chat_template_renderer(tokenizer)
        for messages, prompt in ((sample, False), (sample[:-1], True)):
            if messages and fast(messages, prompt) != tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=prompt
            ):
                return None
    except Exception:  # noqa: BLE001 (any failure here means: render the documented way)
        return None
    return fast


def _assistant_spans(tokenizer, messages: list[dict], full: str, where: str, fast=None) -> list[tuple[int, int]]:
    """Character spans of `full` that belong to assistant turns, end-of-turn markup included."""
    spans = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        if index == 0:
            raise UserError(f"{where}: field 'messages' starts with an assistant turn; put a user turn before it")
        prompt = _render(tokenizer, messages[:index], where, add_generation_prompt=True, fast=fast)
        # The last turn's rendering is the whole conversation's, already made: one render fewer per record.
        turn = full if index == len(messages) - 1 else _render(tokenizer, messages[: index + 1], where, fast=fast)
        if not (turn.startswith(prompt) and full.startswith(turn)):
            raise UserError(
                f"{where}: the chat template renders the conversation up to turn {index} differently from the "
                "whole conversation, so the assistant tokens cannot be found; use data.train_on=all or another "
                "data.chat_template"
            )
        spans.append((len(prompt), len(turn)))
    return spans


def _mask(ids: list[int], offsets: list[tuple[int, int]], spans: list[tuple[int, int]]) -> list[int]:
    # Overlap, not containment: a token merged across the turn's first character still
    # produces answer text, so the model must learn it.
    if len(spans) == 1:  # one answer, the common case, without a loop over spans per token
        (first, last), = spans
        return [t if end > start and start < last and end > first else IGNORE_INDEX
                for t, (start, end) in zip(ids, offsets)]
    return [
        t if end > start and any(start < turn_end and end > turn_start for turn_start, turn_end in spans)
        else IGNORE_INDEX
        for t, (start, end) in zip(ids, offsets)
    ]


def tokenize_chats(
    conversations: list[list[dict]], tokenizer, train_on: str = "assistant", wheres: list[str] | None = None
) -> tuple[list[list[int]], list[list[int]]]:
    """`input_ids` and `labels` of each conversation (one tokenizer call for all); labels are
    IGNORE_INDEX where no loss is taken."""
    wheres = wheres or ["conversation"] * len(conversations)
    fast = _fast_renderer(tokenizer, conversations[0]) if len(conversations) > 1 else None
    fulls = [_render(tokenizer, messages, where, fast=fast) for messages, where in zip(conversations, wheres)]
    # The template writes any BOS itself; letting the tokenizer add one too would double it.
    if train_on == "all":
        ids = tokenizer(fulls, add_special_tokens=False, verbose=False)["input_ids"]
        return ids, [list(row) for row in ids]
    if not tokenizer.is_fast:
        raise UserError("data.train_on=assistant needs a fast tokenizer (for character offsets); use train_on=all")
    # The Rust tokenizer itself: transformers' conversion of its output to Python dicts costs more than tokenizing.
    encodings = tokenizer.backend_tokenizer.encode_batch(fulls, add_special_tokens=False)
    ids = [encoding.ids for encoding in encodings]
    labels = [
        _mask(row, encoding.offsets, _assistant_spans(tokenizer, messages, full, where, fast))
        for row, encoding, messages, full, where in zip(ids, encodings, conversations, fulls, wheres)
    ]
    return ids, labels


def tokenize_chat(
    messages: list[dict], tokenizer, train_on: str = "assistant", where: str = "conversation"
) -> tuple[list[int], list[int]]:
    """`input_ids` and `labels` of one conversation; labels are IGNORE_INDEX where no loss is taken."""
    ids, labels = tokenize_chats([messages], tokenizer, train_on, [where])
    return ids[0], labels[0]


def tokenize_text(text: str, tokenizer, max_seq_length: int) -> list[list[int]]:
    """Consecutive blocks of at most `max_seq_length` tokens covering the text and a final EOS."""
    return _text_blocks(tokenizer(text, verbose=False)["input_ids"], tokenizer, max_seq_length)


def _text_blocks(ids: list[int], tokenizer, max_seq_length: int) -> list[list[int]]:
    # Default special tokens (the caller's tokenizer call): a model trained with a BOS at the start of
    # each document gets one.
    if tokenizer.eos_token_id is not None and (not ids or ids[-1] != tokenizer.eos_token_id):
        ids.append(tokenizer.eos_token_id)  # marks the document's end, so the model learns where texts stop
    return [ids[start : start + max_seq_length] for start in range(0, len(ids), max_seq_length)]


def tokenize_records(texts: list[str], wheres: list[str], indices: list[int], shape: str, cfg: DataConfig, tokenizer):
    """A batch of write_record_table rows as sample rows: the datasets.map function, run in every worker.

    A chat record gives one row, kept even when dropped (`dropped`, empty) so it is counted; a text
    record one row per block. `record` is the row's record number, `trainable` its count of labels
    that take a loss.
    """
    records = [parse_record(text, where) for text, where in zip(texts, wheres)]
    for record in records:
        validate_record(record, shape, cfg.text_column, cfg.train_on)
    columns = ("input_ids", "labels", "record", "truncated", "dropped", "trainable")
    rows: dict[str, list] = {name: [] for name in columns}

    def add(ids, labels, index, truncated=False, dropped=False):
        rows["input_ids"].append(ids)
        rows["labels"].append(labels)
        rows["record"].append(index)
        rows["truncated"].append(truncated)
        rows["dropped"].append(dropped)
        rows["trainable"].append(len(labels) - labels.count(IGNORE_INDEX))

    if shape == "text":
        encoded = tokenizer([r.data[cfg.text_column] for r in records], verbose=False)["input_ids"]
        for index, ids in zip(indices, encoded):
            for block in _text_blocks(ids, tokenizer, cfg.max_seq_length):
                add(block, list(block), index)
        return rows
    limit = cfg.max_seq_length * MAX_CHARS_PER_TOKEN
    conversations = [[{**m, "content": m["content"][:limit]} for m in to_messages(r.data, shape, cfg)] for r in records]
    all_ids, all_labels = tokenize_chats(conversations, tokenizer, cfg.train_on, [r.where for r in records])
    for index, ids, labels in zip(indices, all_ids, all_labels):
        truncated = len(ids) > cfg.max_seq_length
        ids, labels = ids[: cfg.max_seq_length], labels[: cfg.max_seq_length]
        if labels.count(IGNORE_INDEX) == len(labels):
            add([], [], index, truncated, dropped=True)  # the answer lay wholly past max_seq_length: nothing to learn
        else:
            add(ids, labels, index, truncated)
    return rows
