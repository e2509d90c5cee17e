"""Model calls: cached on disk by their inputs, parsed, retried, skipped with a reason, shown in progress.

Every reply is saved the moment it arrives, keyed by a hash of everything that determines it
(backend, model, temperature, token limit, the whole conversation), so a run that is killed and
started again asks the model only what it had not answered yet. A reply that cannot be parsed
is asked again with a follow-up message (that conversation is cached too, so a rerun replays
it); a request that failed is sent again. After `max_attempts` the call is skipped and
reported, and the run goes on.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from knowtune.data.ingest import Skipped
from knowtune.synth.backends import Backend, Failure, Messages

class CallCache:
    """Replies in an SQLite file: each one committed at once, so a killed process loses none."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)  # autocommit: every put is durable on return
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, request TEXT NOT NULL, reply TEXT NOT NULL)"
        )

    @staticmethod
    def request(identity: dict, max_new_tokens: int, messages: Messages) -> str:
        return json.dumps({**identity, "max_new_tokens": max_new_tokens, "messages": messages}, sort_keys=True)

    @staticmethod
    def key(request: str) -> str:
        return hashlib.sha256(request.encode("utf-8")).hexdigest()

    def get(self, key: str) -> str | None:
        row = self.db.execute("SELECT reply FROM calls WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, request: str, reply: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO calls VALUES (?, ?, ?)", (key, request, reply))

    def close(self) -> None:
        self.db.close()


@dataclass(frozen=True)
class Call:
    label: str  # names the request in messages and in the report: "facts of docs/a.md#0"
    messages: Messages
    parse: Callable[[str], object | None]  # the reply's content, or None if there is nothing usable in it


def warn(message: str) -> None:
    tqdm.write(f"knowtune: {message}", file=sys.stderr)


class Caller:
    """Asks a backend through the cache; collects the calls it had to skip."""

    def __init__(self, backend: Backend, cache: CallCache, max_attempts: int, reask: str):
        self.backend, self.cache = backend, cache
        self.max_attempts, self.reask = max_attempts, reask
        self.skipped: list[Skipped] = []
        self.model_calls = 0  # replies that came from the model in this run, not from the cache

    def ask(self, calls: list[Call], max_new_tokens: int, desc: str, unit: str) -> list:
        """The parsed reply to every call, None where it was skipped."""
        results: list = [None] * len(calls)
        pending = {i: call.messages for i, call in enumerate(calls)}
        errors: dict[int, str] = {}
        with tqdm(total=len(calls), desc=desc, unit=unit, dynamic_ncols=True) as bar:
            for _ in range(self.max_attempts):
                retry: dict[int, Messages] = {}
                for i, reply in self._replies(pending, max_new_tokens):
                    if isinstance(reply, Failure):
                        retry[i], errors[i] = pending[i], reply.reason
                        continue
                    parsed = calls[i].parse(reply)
                    if parsed is None:
                        followup = [{"role": "assistant", "content": reply}, {"role": "user", "content": self.reask}]
                        retry[i], errors[i] = pending[i] + followup, f"nothing usable in the reply {_excerpt(reply)}"
                        continue
                    results[i] = parsed
                    bar.update()
                pending = retry
                if not pending:
                    break
        for i in sorted(pending):
            self.skipped.append(Skipped(calls[i].label, errors[i]))
            warn(f"skipped {calls[i].label}: {errors[i]}")
        return results

    def _replies(self, pending: dict[int, Messages], max_new_tokens: int) -> Iterator[tuple[int, str | Failure]]:
        """Cached replies first, then the model's as they come; identical requests are sent once."""
        waiting: dict[str, tuple[str, list[int]]] = {}
        for i, messages in pending.items():
            request = CallCache.request(self.backend.identity, max_new_tokens, messages)
            key = CallCache.key(request)
            cached = self.cache.get(key)
            if cached is not None:
                yield i, cached
            else:
                waiting.setdefault(key, (request, []))[1].append(i)
        if not waiting:
            return
        keys = list(waiting)
        requests = [pending[waiting[key][1][0]] for key in keys]
        for j, reply in self.backend.generate(requests, max_new_tokens):
            request, indices = waiting[keys[j]]
            if not isinstance(reply, Failure):
                self.cache.put(keys[j], request, reply)
                self.model_calls += 1
            for i in indices:
                yield i, reply


def _excerpt(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[:limit] + "...")
