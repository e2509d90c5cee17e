"""Reading dataset sources into plain records, each tagged with where it came from.

Every record carries a human location (`train.jsonl:3`, `train.json record 3`, `train.parquet row 3`,
all 1-based) so that a later check can point the user at the exact bad line. Nothing here knows
about shapes: records come back as they were written.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable, Iterator, NamedTuple

from knowtune.errors import UserError

SUPPORTED = ".json, .jsonl, .parquet, .txt, a folder of .txt files or a folder written by datasets.save_to_disk"
_FILE_SUFFIXES = (".json", ".jsonl", ".parquet", ".txt")
# `org/name` or `name`: anything else that does not exist locally is a typo, not a Hub id.
_HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


class Record(NamedTuple):
    data: Any  # a dict when the file is well formed; the shape check rejects anything else
    where: str


def load_records(
    paths: list[str], text_column: str = "text", splits: tuple[str, ...] = ("train",), cache_dir: str | None = None
) -> list[Record]:
    """Read every source in `paths`, in order; `splits` picks the split of a multi-split dataset."""
    records: list[Record] = []
    for name in paths:
        found = list(_read_source(name, text_column, splits, cache_dir))
        if not found:
            raise UserError(f"{name}: no records (empty file)")
        records.extend(found)
    return records


def write_record_table(
    paths: list[str], out: Path, text_column: str = "text", splits: tuple[str, ...] = ("train",),
    cache_dir: str | None = None,
) -> int:
    """Write every record of `paths` to the Arrow file `out` as (json, where) rows; return how many.

    JSON Lines are copied line by line, unparsed, so a file of millions of records never sits in
    memory as Python objects: the records are parsed later, in parallel, where they are tokenized.
    """
    import pyarrow

    schema = pyarrow.schema([("json", pyarrow.large_string()), ("where", pyarrow.string())])
    count = 0
    with pyarrow.ipc.new_stream(str(out), schema) as writer:  # the stream format datasets memory-maps
        for name in paths:
            found = 0
            for batch in _record_batches(name, text_column, splits, cache_dir):
                writer.write_batch(pyarrow.record_batch([batch[0], batch[1]], schema=schema))
                found += len(batch[0])
            if not found:
                raise UserError(f"{name}: no records (empty file)")
            count += found
    return count


def _record_batches(name: str, text_column: str, splits: tuple[str, ...], cache_dir: str | None, size: int = 50_000):
    """(json texts, locations) in batches of `size`: JSON Lines read lazily, other sources through the readers above."""
    path = Path(name).expanduser()
    if path.is_file() and path.suffix.lower() == ".jsonl":
        lines = jsonl_lines(path)
    else:
        records = _read_source(name, text_column, splits, cache_dir)
        lines = ((json.dumps(r.data, ensure_ascii=False, default=str), r.where) for r in records)
    batch: tuple[list, list] = ([], [])
    for text, where in lines:
        batch[0].append(text)
        batch[1].append(where)
        if len(batch[0]) == size:
            yield batch
            batch = ([], [])
    if batch[0]:
        yield batch


def jsonl_lines(path: Path):
    """(line, location) of each non-blank line, decoded as UTF-8 one line at a time."""
    offset = 0
    with path.open("rb") as file:
        # Binary lines end at b"\n" only: JSON strings may legally hold U+2028, which text mode would not split on,
        # but a lone \r would be.
        for number, raw in enumerate(file, start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise UserError(
                    f"{path}:{number}: not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {offset + e.start})"
                ) from e
            offset += len(raw)
            if line.strip():
                yield line.rstrip("\n"), f"{path}:{number}"


def parse_record(text: str, where: str) -> Record:
    """A record of the table write_record_table wrote, parsed back."""
    try:
        return Record(json.loads(text), where)
    except json.JSONDecodeError as e:
        raise UserError(f"{where}: invalid JSON: {e.msg} (column {e.colno})") from e


def _read_source(
    name: str, text_column: str, splits: tuple[str, ...], cache_dir: str | None
) -> Iterable[Record]:
    """The records of one source; Parquet and `datasets` rows are read as they are iterated."""
    path = Path(name).expanduser()
    if path.is_dir():
        if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
            return _read_saved_dataset(path, splits)
        return _read_text_folder(path, text_column)
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".jsonl":
            return _read_jsonl(path, _read_text(path))
        if suffix == ".json":
            return _read_json(path)
        if suffix == ".parquet":
            return _read_parquet(path)
        if suffix == ".txt":
            return [Record({text_column: _read_text(path)}, str(path))]
        raise UserError(f"{path}: unsupported file type '{path.suffix}' (expected {SUPPORTED})")
    if path.suffix.lower() in _FILE_SUFFIXES or not _HUB_NAME.match(name):
        raise UserError(f"{name}: no such file or directory")
    return _read_hub(name, splits, cache_dir)


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")  # -sig: tolerate the BOM some Windows editors write
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise UserError(f"{path}:{line}: not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start})") from e


def _read_jsonl(path: Path, text: str) -> list[Record]:
    records = []
    # split("\n"), not splitlines(): JSON strings may legally hold U+2028, which splitlines breaks on.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append(Record(json.loads(line), f"{path}:{number}"))
        except json.JSONDecodeError as e:
            raise UserError(f"{path}:{number}: invalid JSON: {e.msg} (column {e.colno})") from e
    return records


def _read_json(path: Path) -> list[Record]:
    text = _read_text(path)
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as e:
        # "Extra data": a whole value was read and more follow, as in the many `.json` datasets
        # (the Hub's included) that are really JSON Lines.
        if e.msg == "Extra data":
            return _read_jsonl(path, text)
        raise UserError(f"{path}:{e.lineno}: invalid JSON: {e.msg} (column {e.colno})") from e
    items = loaded if isinstance(loaded, list) else [loaded]
    return [Record(item, f"{path} record {number}") for number, item in enumerate(items, start=1)]


def _read_parquet(path: Path) -> Iterator[Record]:
    import pyarrow
    import pyarrow.parquet

    number = 0
    try:
        for batch in pyarrow.parquet.ParquetFile(path).iter_batches():
            for row in batch.to_pylist():
                number += 1
                yield Record(row, f"{path} row {number}")
    except (pyarrow.ArrowException, OSError) as e:
        raise UserError(f"{path}: cannot read as Parquet: {_first_line(e)}") from e


def _read_text_folder(path: Path, text_column: str) -> list[Record]:
    files = sorted(p for p in path.rglob("*.txt") if p.is_file())
    if not files:
        raise UserError(f"{path}: folder has no .txt files and was not written by datasets.save_to_disk")
    return [Record({text_column: _read_text(file)}, str(file)) for file in files]


def _read_saved_dataset(path: Path, splits: tuple[str, ...]) -> Iterator[Record]:
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: cannot read the saved dataset: {_first_line(e)}") from e
    return _rows(loaded, str(path), splits)


def _read_hub(name: str, splits: tuple[str, ...], cache_dir: str | None) -> Iterator[Record]:
    import datasets

    try:
        loaded = datasets.load_dataset(name, cache_dir=cache_dir)
    except Exception as e:  # missing repo, no network, auth, unknown builder: all mean "cannot use this name"
        raise UserError(
            f"'{name}' is neither a local path nor a dataset reachable on the Hub ({_first_line(e)})"
        ) from e
    return _rows(loaded, name, splits)


def _rows(loaded, name: str, splits: tuple[str, ...]) -> Iterator[Record]:
    import datasets

    prefix = name
    if isinstance(loaded, datasets.DatasetDict):
        split = next((s for s in splits if s in loaded), None)
        if split is None:
            raise UserError(f"{name}: has splits {', '.join(loaded)}; expected one of {', '.join(splits)}")
        loaded, prefix = loaded[split], f"{name} [{split}]"
    return (Record(row, f"{prefix} row {number}") for number, row in enumerate(loaded, start=1))


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
