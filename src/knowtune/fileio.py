"""Files written whole or not at all: beside the final name, flushed to disk, then renamed into place.

A reader, or a run killed halfway through writing, never sees a half-written file that looks valid.
A failure while writing (a full disk) removes the temporary file and leaves any previous version.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

from knowtune.errors import UserError


def write_atomic(path: str | Path, data: str | bytes) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            kept = "the previous version is kept" if path.exists() else "nothing was written"
            raise UserError(f"cannot write {path}: {e.strerror} ({kept}); free some space and run again") from e
        raise


def write_json(path: str | Path, obj, indent: int = 2) -> None:
    write_atomic(path, json.dumps(obj, indent=indent, ensure_ascii=False, default=str) + "\n")


def write_jsonl(path: str | Path, records) -> None:
    write_atomic(path, "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records))
