"""Tokenized samples on disk: made once per input by datasets.map on every core, found again by fingerprint.

A folder per fingerprint (of the data files' contents, the tokenizer, its chat template and the data
settings that shape samples) holds the samples of every record in file order, as Arrow files that
every process and every later run memory-maps instead of tokenizing again. Which records a run
trains on (shuffle, held-out split, dataset_size) is picked from them afterwards, so that choice
is no part of the fingerprint.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from knowtune.data.config import DataConfig
from knowtune.data.load import parse_record, write_record_table
from knowtune.data.shapes import detect_shape
from knowtune.data.tokenize import ensure_chat_template, tokenize_records
from knowtune.models import cache_dir as knowtune_cache

# Bump when the samples' columns or the way records become samples change: old folders are then not read.
LAYOUT = 1
# The data settings that change samples; the others (dataset_size, the split, num_proc) only pick among them.
SAMPLE_SETTINGS = {"format", "text_column", "max_seq_length", "train_on", "system_prompt", "chat_template"}
# Below this many records per process, starting another process costs more than it saves.
RECORDS_PER_PROCESS = 5_000


@dataclass
class Tables:
    shape: str
    train: object  # datasets.Dataset: every training record's samples, in file order
    eval: object | None  # the same for data.eval, when given
    train_records: int
    eval_records: int


def data_cache(cache_dir: str | None = None) -> Path:
    """Where tokenized samples are kept: $KNOWTUNE_DATA_CACHE, else the knowtune cache's datasets/ folder."""
    override = os.environ.get("KNOWTUNE_DATA_CACHE")
    return Path(override).expanduser() if override else knowtune_cache(cache_dir) / "datasets"


def prepare_tables(cfg: DataConfig, tokenizer, cache_dir: str | None = None) -> Tables:
    """The samples of `cfg`'s records: from the cache, or tokenized now and cached."""
    folder = data_cache(cache_dir) / fingerprint(cfg, tokenizer)
    if not (folder / "manifest.json").is_file():
        _tokenize_into(folder, cfg, tokenizer, cache_dir)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    if manifest["shape"] != "text":
        ensure_chat_template(tokenizer, cfg)  # as tokenizing did, so the template is saved with the model
    evaluation = _open(folder, manifest["files"]["eval"]) if cfg.eval else None
    return Tables(manifest["shape"], _open(folder, manifest["files"]["train"]), evaluation,
                  manifest["records"]["train"], manifest["records"]["eval"])


def wait_for_tables(cfg: DataConfig, tokenizer, cache_dir: str | None = None, poll_seconds: float = 1.0) -> None:
    """Return once another process (a distributed run's main process) has cached `cfg`'s samples."""
    manifest = data_cache(cache_dir) / fingerprint(cfg, tokenizer) / "manifest.json"
    while not manifest.is_file():
        time.sleep(poll_seconds)


def pick_samples(table, records: list[int]) -> tuple[object, dict]:
    """The samples of `records` (record numbers, in the order wanted) as a dataset, and their counts."""
    record = table.data.column("record").to_numpy()
    per_record = np.bincount(record, minlength=max(records, default=0) + 1)
    first_row = np.cumsum(per_record) - per_record
    wanted = np.asarray(records, dtype=np.int64)
    counts = per_record[wanted]
    # Row numbers of every sample of the wanted records, record by record, without a Python loop.
    rows = np.repeat(first_row[wanted] - (np.cumsum(counts) - counts), counts) + np.arange(counts.sum())
    dropped = table.data.column("dropped").to_numpy(zero_copy_only=False)[rows]
    kept = rows[~dropped]
    lengths = _lengths(table)[kept]
    totals = {
        "samples": int(len(kept)),
        "dropped": int(dropped.sum()),
        "truncated": int(table.data.column("truncated").to_numpy(zero_copy_only=False)[rows].sum()),
        "tokens": int(lengths.sum()),
        "trainable": int(table.data.column("trainable").to_numpy()[kept].sum()),
    }
    return table.select(kept).select_columns(["input_ids", "labels"]), totals


def _lengths(table) -> np.ndarray:
    import pyarrow.compute

    return pyarrow.compute.list_value_length(table.data.column("input_ids")).to_numpy(zero_copy_only=False)


def fingerprint(cfg: DataConfig, tokenizer) -> str:
    """A name for the samples `cfg` and `tokenizer` make: it changes when any input to them changes."""
    import xxhash

    key = {
        "layout": LAYOUT,
        "knowtune": importlib.metadata.version("knowtune"),
        "settings": cfg.model_dump(mode="json", include=SAMPLE_SETTINGS),
        "tokenizer": _tokenizer_identity(tokenizer),
        "train": [_source_identity(name) for name in cfg.train],
        "eval": [_source_identity(name) for name in cfg.eval],
    }
    return xxhash.xxh3_128_hexdigest(json.dumps(key, sort_keys=True).encode())


def _tokenizer_identity(tokenizer) -> list:
    import xxhash
    from datasets.fingerprint import Hasher

    # A fast tokenizer's whole definition (vocabulary, merges, normalizer, BOS/EOS post-processor) is its JSON.
    backend = tokenizer.backend_tokenizer.to_str() if tokenizer.is_fast else Hasher.hash(tokenizer)
    return [type(tokenizer).__name__, xxhash.xxh3_128_hexdigest(backend.encode()), tokenizer.chat_template,
            tokenizer.bos_token_id, tokenizer.eos_token_id]


def _source_identity(name: str) -> list:
    """A source by its files' contents (a copied or touched file is the same source), or a Hub name as is."""
    path = Path(name).expanduser()
    if path.is_file():
        return [str(path.resolve()), _content_hash(path)]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        return [str(path.resolve())] + [[str(p.relative_to(path)), _content_hash(p)] for p in files]
    return [name]


def _content_hash(path: Path) -> str:
    import xxhash

    digest = xxhash.xxh3_128()
    with path.open("rb") as file:
        while chunk := file.read(1 << 23):
            digest.update(chunk)
    return digest.hexdigest()


def _processes(cfg: DataConfig, records: int) -> int:
    if cfg.num_proc is not None:
        return cfg.num_proc
    return max(1, min(len(os.sched_getaffinity(0)), records // RECORDS_PER_PROCESS))


def _tokenize_into(folder: Path, cfg: DataConfig, tokenizer, cache_dir: str | None) -> None:
    """Tokenize every record of `cfg` into `folder`, written whole or not at all."""
    import datasets

    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        parts = {"train": (cfg.train, ("train",)), "eval": (cfg.eval, ("validation", "test"))}
        counts, raw = {"train": 0, "eval": 0}, {}
        for part, (paths, splits) in parts.items():
            if paths:
                table = work / f"{part}-records.arrow"
                counts[part] = write_record_table(paths, table, cfg.text_column, splits, cache_dir)
                raw[part] = datasets.Dataset.from_file(str(table))
        first = raw["train"][0]
        shape = cfg.format
        if shape == "auto":
            shape = detect_shape(parse_record(first["json"], first["where"]), cfg.text_column)
        if shape != "text":
            ensure_chat_template(tokenizer, cfg)
        files = {}
        for part, records in raw.items():
            processes = _processes(cfg, len(records))
            print(f"Tokenizing {len(records)} {part} records in {processes} processes into {folder}", flush=True)
            with _progress_bar(len(records) >= RECORDS_PER_PROCESS):  # a few records need no bar
                samples = records.map(
                    tokenize_records, batched=True, with_indices=True, input_columns=["json", "where"],
                    remove_columns=records.column_names, features=_sample_features(),
                    fn_kwargs={"shape": shape, "cfg": cfg, "tokenizer": tokenizer},
                    num_proc=processes if processes > 1 else None, cache_file_name=str(work / f"{part}.arrow"),
                    new_fingerprint=f"{folder.name}-{part}", desc=f"Tokenizing {part} records",
                )
            files[part] = [Path(f["filename"]).name for f in samples.cache_files]
            del samples
        raw.clear()
        for part in parts:
            (work / f"{part}-records.arrow").unlink(missing_ok=True)
        manifest = {"shape": shape, "records": counts, "files": files}
        (work / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        try:
            work.rename(folder)
        except OSError:  # another process on a shared disk finished first: its samples are the same
            pass
    finally:
        shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def _progress_bar(shown: bool):
    import datasets

    hide = not shown and datasets.is_progress_bar_enabled()
    if hide:
        datasets.disable_progress_bars()
    try:
        yield
    finally:
        if hide:
            datasets.enable_progress_bars()


def _sample_features():
    import datasets

    ids = datasets.List(datasets.Value("int32"))
    return datasets.Features({
        "input_ids": ids, "labels": ids, "record": datasets.Value("int64"), "truncated": datasets.Value("bool"),
        "dropped": datasets.Value("bool"), "trainable": datasets.Value("int32"),
    })


def _open(folder: Path, files: list[str]):
    import datasets

    parts = [datasets.Dataset.from_file(str(folder / name)) for name in files]
    return parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)
