"""How far an accuracy can be trusted: Wilson intervals and the exact McNemar test.

A few dozen questions move an accuracy by whole points per question, so every accuracy carries a
95% Wilson score interval (Wilson 1927; it stays inside [0, 1] and is sensible at 0/n and n/n,
where the normal approximation is not), and base vs tuned on the same questions gets McNemar's
test on the questions that changed: under "no difference" each changed question is as likely to
be gained as lost, so the two-sided p-value is an exact binomial tail at 1/2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Z_95 = 1.959963984540054  # the standard normal quantile at 0.975


def wilson_interval(correct: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of `correct` successes in `n` trials (95% by default)."""
    if n <= 0:
        raise ValueError("an interval needs at least one trial")
    if not 0 <= correct <= n:
        raise ValueError(f"correct ({correct}) must lie in [0, n={n}]")
    p = correct / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def accuracy(flags: Sequence[bool]) -> dict:
    """{n, correct, accuracy, ci_low, ci_high} of per-question right/wrong flags."""
    n, correct = len(flags), sum(bool(f) for f in flags)
    low, high = wilson_interval(correct, n)
    return {"n": n, "correct": correct, "accuracy": correct / n, "ci_low": low, "ci_high": high}


def mcnemar_exact(gained: int, lost: int) -> float:
    """Two-sided exact McNemar p-value: P(a split at least this uneven) of gained + lost fair coin flips."""
    changed = gained + lost
    if changed == 0:
        return 1.0
    tail = sum(math.comb(changed, i) for i in range(min(gained, lost) + 1)) / 2**changed
    return min(1.0, 2 * tail)


def paired(before: Sequence[bool], after: Sequence[bool]) -> dict:
    """{gained, lost, p_value}: questions right only after, right only before, and McNemar's p."""
    if len(before) != len(after):
        raise ValueError(f"paired results need the same questions ({len(before)} vs {len(after)})")
    gained = sum(1 for b, a in zip(before, after) if a and not b)
    lost = sum(1 for b, a in zip(before, after) if b and not a)
    return {"gained": gained, "lost": lost, "p_value": mcnemar_exact(gained, lost)}


def describe_change(what: str, test: dict, alpha: float = 0.05) -> str:
    """One line for a user: "retention: 1 gained, 3 lost (p = 0.62, not distinguishable from noise)"."""
    verdict = "a real change" if test["p_value"] < alpha else "not distinguishable from noise"
    return f"{what}: {test['gained']} gained, {test['lost']} lost (p = {test['p_value']:.2g}, {verdict})"


def format_accuracy(result: dict) -> str:
    """"9/10 (90%, 95% CI 60%-98%)"."""
    return (f"{result['correct']}/{result['n']} ({result['accuracy']:.0%}, 95% CI "
            f"{result['ci_low']:.0%}-{result['ci_high']:.0%})")
