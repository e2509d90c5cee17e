"""data.streaming: a text corpus read as training goes, its tokens packed into max_seq_length blocks.

For continued pretraining on corpora larger than memory. Nothing is read before training starts
(beyond the first block, to fail early on a bad source); each document's tokens (with the BOS the
tokenizer puts at a document's start, and an EOS at its end) are appended to one running stream,
cut into blocks of exactly max_seq_length tokens (the last one shorter), so memory holds one batch
of text and one block whatever the corpus size. A .txt file is one document, read 64 KB at a time,
cut at line ends: a token that would have spanned a cut (two newlines, say) is two tokens here.
No shuffle: blocks come in corpus order. The Trainer resumes a stream by reading it again from the
start and skipping the batches already trained, so a resumed run sees the blocks it would have seen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from knowtune.data.config import DataConfig
from knowtune.data.load import Record, jsonl_lines, parse_record
from knowtune.data.shapes import validate_record
from knowtune.errors import UserError

STREAMABLE = ".txt, .jsonl, .parquet, a folder of .txt files or a Hub dataset name"
_BATCH_CHARACTERS = 1 << 20  # text tokenized per tokenizer call: large enough for its speed, small for memory
_PIECE_CHARACTERS = 1 << 16  # a .txt file is read in pieces this long, which a batch tokenizes in parallel


def stream_datasets(cfg: DataConfig, tokenizer, evaluation, eval_stats: dict | None, cache_dir: str | None = None):
    """(train as a datasets.IterableDataset of packed blocks, `evaluation`, stats), as build_datasets returns.

    `evaluation` and `eval_stats` are the eval set, tokenized as without streaming (build_datasets does it).
    """
    import datasets

    ids = datasets.List(datasets.Value("int32"))
    train = datasets.IterableDataset.from_generator(
        _packed_blocks,
        gen_kwargs={"sources": list(cfg.train), "cfg": cfg, "tokenizer": tokenizer, "cache_dir": cache_dir},
        features=datasets.Features({"input_ids": ids, "labels": ids}),
    )
    next(iter(train), None)  # a missing file or a bad first record fails now, not steps into training
    stats = {
        "shape": "text",
        "streaming": True,
        "files": {"train": list(cfg.train), "eval": list(cfg.eval)},
        "eval_source": "files" if cfg.eval else None,
        # Unknown until the stream has been read: None, not a guess.
        "train_records": None,
        "eval_records": eval_stats["train_records"] if eval_stats else 0,
        "train_samples": None,
        "eval_samples": eval_stats["train_samples"] if eval_stats else 0,
        "dropped_no_trainable_tokens": 0,
        "truncated": 0,
        "train_tokens": None,
        "trainable_tokens": None,
    }
    return train, evaluation, stats


def _packed_blocks(sources: list[str], cfg: DataConfig, tokenizer, cache_dir: str | None) -> Iterator[dict]:
    eos = tokenizer.eos_token_id
    start = tokenizer("", verbose=False)["input_ids"]  # what the tokenizer puts at a document's start: BOS or nothing
    if start and start[-1] == eos:
        start = start[:-1]  # a tokenizer that also ends every text with EOS: the stream adds it itself
    buffer: list[int] = []
    for pieces in _batches(_pieces(sources, cfg, cache_dir)):
        encoded = tokenizer.backend_tokenizer.encode_batch([text for text, _, _ in pieces], add_special_tokens=False)
        for (_, first, last), encoding in zip(pieces, encoded):
            if first:
                buffer.extend(start)
            buffer.extend(encoding.ids)
            if last and eos is not None and (not buffer or buffer[-1] != eos):
                buffer.append(eos)  # marks the document's end, so the model learns where texts stop
        whole = len(buffer) - len(buffer) % cfg.max_seq_length
        for offset in range(0, whole, cfg.max_seq_length):
            block = buffer[offset : offset + cfg.max_seq_length]
            yield {"input_ids": block, "labels": block}
        del buffer[:whole]
    if buffer:
        yield {"input_ids": buffer, "labels": buffer}


def _batches(pieces: Iterator[tuple[str, bool, bool]]) -> Iterator[list[tuple[str, bool, bool]]]:
    # The first batches are small: the Trainer and TRL start the stream several times to look at a first
    # block, and each start would otherwise tokenize a whole megabyte.
    batch, size, wanted = [], 0, _BATCH_CHARACTERS >> 6
    for piece in pieces:
        batch.append(piece)
        size += len(piece[0])
        if size >= wanted:
            yield batch
            batch, size, wanted = [], 0, min(2 * wanted, _BATCH_CHARACTERS)
    if batch:
        yield batch


def _pieces(sources: list[str], cfg: DataConfig, cache_dir: str | None) -> Iterator[tuple[str, bool, bool]]:
    """(text, starts a document, ends a document) for every piece of text of every source, in order."""
    for name in sources:
        path = Path(name).expanduser()
        suffix = path.suffix.lower()
        if path.is_dir():
            files = sorted(p for p in path.rglob("*.txt") if p.is_file())
            if not files:
                raise UserError(f"{path}: data.streaming reads a folder of .txt files; this one has none")
            for file in files:
                yield from _text_file(file)
        elif path.is_file() and suffix == ".txt":
            yield from _text_file(path)
        elif path.is_file() and suffix == ".jsonl":
            for line, where in jsonl_lines(path):
                yield _text_of(parse_record(line, where), cfg), True, True
        elif path.is_file() and suffix == ".parquet":
            yield from _parquet_texts(path, cfg)
        elif path.exists():
            raise UserError(f"{name}: data.streaming reads {STREAMABLE}")
        elif suffix:
            raise UserError(f"{name}: no such file or directory")
        else:
            yield from _hub_texts(name, cfg, cache_dir)


def _text_of(record, cfg: DataConfig) -> str:
    validate_record(record, "text", cfg.text_column)
    return record.data[cfg.text_column]


def _text_file(path: Path) -> Iterator[tuple[str, bool, bool]]:
    first, carry = True, ""
    with path.open(encoding="utf-8-sig", newline="") as file:
        try:
            while chunk := file.read(_PIECE_CHARACTERS):
                text = carry + chunk
                cut = text.rfind("\n") + 1  # whole lines only; a line longer than a chunk waits for its end
                if cut:
                    yield text[:cut], first, False
                    first, text = False, text[cut:]
                carry = text
        except UnicodeDecodeError as e:
            raise UserError(f"{path}: not UTF-8 text (near byte {e.start} of a chunk read)") from e
    yield carry, first, True


def _parquet_texts(path: Path, cfg: DataConfig) -> Iterator[tuple[str, bool, bool]]:
    import pyarrow.parquet

    try:
        batches = pyarrow.parquet.ParquetFile(path).iter_batches(columns=[cfg.text_column])
        row = 0
        for batch in batches:
            for text in batch.column(0).to_pylist():
                row += 1
                if not isinstance(text, str):
                    raise UserError(f"{path} row {row}: field '{cfg.text_column}' must be a string")
                yield text, True, True
    except (pyarrow.ArrowException, OSError) as e:
        raise UserError(f"{path}: cannot read column '{cfg.text_column}' as Parquet: {str(e).splitlines()[0]}") from e


def _hub_texts(name: str, cfg: DataConfig, cache_dir: str | None) -> Iterator[tuple[str, bool, bool]]:
    import datasets

    try:
        rows = datasets.load_dataset(name, split="train", streaming=True, cache_dir=cache_dir)
    except Exception as e:  # missing repo, no network, auth, unknown builder: all mean "cannot use this name"
        raise UserError(f"'{name}' is neither a local path nor a dataset reachable on the Hub ({e})") from e
    for number, row in enumerate(rows, start=1):
        yield _text_of(Record(row, f"{name} [train] row {number}"), cfg), True, True
