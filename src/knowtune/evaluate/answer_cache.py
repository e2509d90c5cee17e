"""The base model's answers, kept across runs.

A base model answers the same questions the same way every time it is asked greedily, so what it
said about a dataset (its predictions file and metrics) is kept under a key of everything that
shapes the answers: the model's files, the dataset's file and the items read from it, decoding
settings, batch size (left padding changes float sums), the device (which sets the dtype), and
the torch and knowtune versions; for answers with retrieval, also the prompts with their passages.
`knowtune run` asks the base model the whole retention suite on every run; from the second run on
(or the second trial of a sweep) those answers are read here instead.
A changed byte in any of them is another key. `--fresh_answers` (eval) ignores the cache.

Entries live in $KNOWTUNE_ANSWER_CACHE, else `answers/` under the knowtune cache; each is
written whole (a predictions file and its metrics, then a marker) or not at all.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
from pathlib import Path

from knowtune.fileio import write_atomic
from knowtune.models.shipped import cache_dir

DONE = "metrics.json"  # written last: an entry without it is not an entry


def folder(cache_override: str | None = None) -> Path:
    return Path(os.environ.get("KNOWTUNE_ANSWER_CACHE") or cache_dir(cache_override) / "answers")


def key(model_sha256: str | None, dataset, settings: dict) -> str | None:
    """The entry's name, or None when the model's files cannot be fingerprinted (a Hub id not on disk)."""
    if model_sha256 is None:
        return None
    # Items by their place in the dataset, not their `where`: that names the file's path, and a run's own copy
    # of its questions (`runs/<name>/test.jsonl`) is another path every run.
    items = [[i, item.prompt, item.gold, item.shown] for i, item in enumerate(dataset.items)]
    parts = {"model": model_sha256, "dataset": dataset.sha256, "metric": dataset.metric, "items": items,
             "settings": settings, "knowtune": importlib.metadata.version("knowtune")}
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def load(root: Path, name: str | None, predictions: Path, dataset=None) -> dict | None:
    """The metrics kept under `name`, with its predictions copied to `predictions` (each line's `where` that of
    `dataset`'s item at its `index`, when given: the file asked before may have been another copy); None if there
    are none."""
    entry = root / name if name else None
    if entry is None or not (entry / DONE).is_file():
        return None
    try:
        metrics = json.loads((entry / DONE).read_text(encoding="utf-8"))
        lines = (entry / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
        if dataset is not None:
            lines = [json.dumps(row | {"where": dataset.items[row["index"]].where}, ensure_ascii=False)
                     for row in map(json.loads, lines)]
        write_atomic(predictions, "".join(line + "\n" for line in lines))
    except (OSError, json.JSONDecodeError, KeyError, IndexError, TypeError):
        return None  # a damaged entry is answered again, and replaced
    return metrics


def store(root: Path, name: str | None, metrics: dict, predictions: Path) -> None:
    if name is None:
        return
    entry = root / name
    entry.mkdir(parents=True, exist_ok=True)
    (entry / DONE).unlink(missing_ok=True)
    shutil.copyfile(predictions, entry / "predictions.jsonl")
    write_atomic(entry / DONE, json.dumps(metrics, ensure_ascii=False) + "\n")
