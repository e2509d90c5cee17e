"""Success criteria such as `f1>=0.85` or `eval_loss<2`: parsed once, checked against a metrics dict."""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

from knowtune.errors import UserError

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}
_PATTERN = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(>=|<=|==|>|<)\s*(-?[0-9.]+(?:e-?[0-9]+)?)\s*$")


@dataclass(frozen=True)
class Criterion:
    metric: str
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}"

    def find(self, metrics: dict) -> float | None:
        """The metric's value: by its exact name, else the one key ending in `_<name>` (f1 -> eval_pii_f1)."""
        if self.metric in metrics:
            return metrics[self.metric]
        matches = [k for k in metrics if k.endswith("_" + self.metric)]
        return metrics[matches[0]] if len(matches) == 1 else None

    def met(self, metrics: dict) -> bool | None:
        """True or False; None when the metrics do not have it."""
        value = self.find(metrics)
        return None if value is None else bool(_OPS[self.op](float(value), self.value))


def parse(text: str, where: str = "criteria") -> Criterion:
    match = _PATTERN.match(text)
    if not match:
        raise UserError(f"{where}: '{text}' is not a criterion; write it as METRIC>=VALUE (also >, <=, <, ==), e.g. f1>=0.85")
    return Criterion(match[1], match[2], float(match[3]))


def parse_all(texts, where: str = "criteria") -> list[Criterion]:
    return [parse(t, where) for t in texts]


def check(criteria: list[Criterion], metrics: dict) -> tuple[bool, list[str]]:
    """Whether every criterion is met, and one line per criterion missed or missing."""
    misses = []
    for c in criteria:
        met = c.met(metrics)
        if met is None:
            misses.append(f"{c}: no metric '{c.metric}'")
        elif not met:
            misses.append(f"{c}: got {float(c.find(metrics)):.4g}")
    return not misses, misses
