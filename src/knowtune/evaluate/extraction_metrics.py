"""Entity extraction: parse a model's output into entities, score them against the gold ones.

A model answers with a JSON list of `{"type": ..., "value": ...}` objects (what `knowtune train`
teaches on extraction data), possibly wrapped in a code fence or a sentence, or with tagged spans
such as `<PERSON>Ada Lovelace</PERSON>`. An output that is neither is unparsable: it predicts no
entity, so every gold entity of that record counts as missed, and it is counted separately.

An entity matches a gold one when both type and value are equal after Unicode NFKC, whitespace
collapsing and case folding; each gold entity matches at most one prediction (multiset counting,
so a value that occurs twice must be found twice).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter

Entity = tuple[str, str]  # (type, value), as written

_FENCE = re.compile(r"^```[\w-]*\s*(.*?)\s*```$", re.S)
_TAG = re.compile(r"<([A-Za-z_][\w.-]*)>(.*?)</\1>", re.S)


def _key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


def as_entities(items) -> list[Entity] | None:
    if not isinstance(items, list):
        return None
    entities = []
    for item in items:
        if not (isinstance(item, dict) and isinstance(item.get("type"), str) and isinstance(item.get("value"), str)):
            return None
        entities.append((item["type"], item["value"]))
    return entities


def _json_list(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def parse_entities(output: str | list) -> list[Entity] | None:
    """The entities in a model's output, or None when it cannot be parsed."""
    if not isinstance(output, str):
        return as_entities(output)
    text = output.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    parsed = _json_list(text)
    if parsed is None and "[" in text and "]" in text:
        # "Here are the entities: [...]": the outermost bracketed part.
        parsed = _json_list(text[text.index("[") : text.rindex("]") + 1])
    if parsed is not None:
        return as_entities(parsed)
    tagged = _TAG.findall(text)
    return [(kind, value.strip()) for kind, value in tagged] if tagged else None


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    # 0/0 counts as 0: a type never predicted has precision 0, as in scikit-learn's default.
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


class ExtractionScorer:
    """Accumulates true/false positives and misses per entity type over many records."""

    def __init__(self) -> None:
        self.n = 0
        self.unparsable = 0
        self.counts: dict[str, Counter] = {}  # type key -> Counter(tp=, fp=, fn=)
        self.names: dict[str, str] = {}  # type key -> the spelling shown (first seen, gold first)

    def _count(self, kind: str, field: str, amount: int) -> None:
        key = _key(kind)
        self.names.setdefault(key, kind.strip())
        self.counts.setdefault(key, Counter())[field] += amount

    def add(self, gold: list[Entity], predicted: list[Entity] | None) -> dict[str, int]:
        """Score one record; `predicted` None means the output was unparsable. Returns its counts."""
        self.n += 1
        if predicted is None:
            self.unparsable += 1
            predicted = []
        gold_keys = Counter((_key(t), _key(v)) for t, v in gold)
        pred_keys = Counter((_key(t), _key(v)) for t, v in predicted)
        for kind, _ in gold:
            self.names.setdefault(_key(kind), kind.strip())
        hits = gold_keys & pred_keys
        for (kind, _), count in hits.items():
            self._count(kind, "tp", count)
        for (kind, _), count in (pred_keys - hits).items():
            self._count(next(t for t, _ in predicted if _key(t) == kind), "fp", count)
        for (kind, _), count in (gold_keys - hits).items():
            self._count(next(t for t, _ in gold if _key(t) == kind), "fn", count)
        return {
            "tp": sum(hits.values()),
            "fp": sum((pred_keys - hits).values()),
            "fn": sum((gold_keys - hits).values()),
        }

    def result(self) -> dict:
        """Micro P/R/F1 (over all entities), macro P/R/F1 (mean over types) and per-type counts."""
        if not self.n:
            raise ValueError("no predictions were scored")
        per_type = {}
        for key, c in sorted(self.counts.items()):
            p, r, f = _prf(c["tp"], c["fp"], c["fn"])
            per_type[self.names[key]] = {
                "precision": p, "recall": r, "f1": f,
                "tp": c["tp"], "fp": c["fp"], "fn": c["fn"], "support": c["tp"] + c["fn"],
            }
        total = sum(self.counts.values(), Counter())
        precision, recall, f1 = _prf(total["tp"], total["fp"], total["fn"])
        types = list(per_type.values())

        def macro(name: str) -> float:
            return sum(t[name] for t in types) / len(types) if types else 0.0

        return {
            "n": self.n,
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "macro_precision": macro("precision"),
            "macro_recall": macro("recall"),
            "macro_f1": macro("f1"),
            "unparsable": self.unparsable,
            "per_type": per_type,
        }
