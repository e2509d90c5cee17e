"""Answer-matching metrics for QA: exact match, token F1 and containment, for English and CJK.

Normalisation follows the SQuAD evaluation script (lowercase, drop punctuation and English
articles, collapse whitespace). Tokenisation follows the CMRC 2018 script's mixed segmentation:
Chinese, Japanese and Korean text has no spaces between words, so each CJK character is one
token, while other text splits on whitespace. Without that, a Chinese answer is one "word" and
a near miss ("北京市" for "北京") scores 0 instead of partial credit.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")

# Ideographs (CJK Unified + extensions, compatibility), Japanese kana, Korean Hangul.
_CJK_RANGES = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x2FA1F),
    (0x3040, 0x309F),
    (0x30A0, 0x30FF),
    (0x31F0, 0x31FF),
    (0x1100, 0x11FF),
    (0x3130, 0x318F),
    (0xAC00, 0xD7AF),
)


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _CJK_RANGES)


def _is_punctuation(char: str) -> bool:
    # string.punctuation keeps SQuAD's ASCII symbols ($, +, <, ...); the Unicode "P" categories
    # add CJK and other scripts' punctuation (。，、「」《》…).
    return char in string.punctuation or unicodedata.category(char).startswith("P")


def normalize_answer(text: str) -> str:
    """Lowercase, drop punctuation and English articles, collapse whitespace."""
    # NFKC folds full-width forms (！，１８７３, halfwidth kana) into their ordinary ones first.
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(c for c in text if not _is_punctuation(c))
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def tokenize(text: str) -> list[str]:
    """Tokens of a normalised answer: one per CJK character, whitespace-split words otherwise."""
    tokens: list[str] = []
    for word in text.split():
        run = ""
        for char in word:
            if _is_cjk(char):
                if run:
                    tokens.append(run)
                    run = ""
                tokens.append(char)
            else:
                run += char
        if run:
            tokens.append(run)
    return tokens


def _as_list(golds: str | Sequence[str]) -> list[str]:
    # A bare string would otherwise be iterated character by character.
    golds = [golds] if isinstance(golds, str) else list(golds)
    if not golds:
        raise ValueError("at least one gold answer is needed")
    return golds


def exact_match(pred: str, golds: str | Sequence[str]) -> float:
    """1.0 if the normalised prediction equals any normalised gold answer, else 0.0."""
    normalized = normalize_answer(pred)
    return float(any(normalized == normalize_answer(gold) for gold in _as_list(golds)))


def _f1_one(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    if not pred_tokens or not gold_tokens:
        # As in SQuAD: two empty answers agree, an empty one against a non-empty one scores 0.
        return float(pred_tokens == gold_tokens)
    common = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if common == 0:
        return 0.0
    precision = common / len(pred_tokens)
    recall = common / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def f1(pred: str, golds: str | Sequence[str]) -> float:
    """Token-overlap F1 between the prediction and the best-matching gold answer."""
    pred_tokens = tokenize(normalize_answer(pred))
    return max(_f1_one(pred_tokens, tokenize(normalize_answer(gold))) for gold in _as_list(golds))


def contains(pred: str, golds: str | Sequence[str]) -> bool:
    """True if some normalised gold answer appears in the normalised prediction.

    Matching is on whole tokens (the gold's tokens as a contiguous run of the prediction's), so
    "417" is found in "it employs 417 people" but not in "4170", and "cat" not in "category";
    CJK tokens are single characters, so a Chinese gold is still found inside a longer sentence.
    An answer that normalises to nothing (only punctuation or articles) never matches.
    """
    pred_tokens = tokenize(normalize_answer(pred))
    for gold in _as_list(golds):
        gold_tokens = tokenize(normalize_answer(gold))
        n = len(gold_tokens)
        if n and any(pred_tokens[i : i + n] == gold_tokens for i in range(len(pred_tokens) - n + 1)):
            return True
    return False


class QAScorer:
    """Scores predictions one by one; `result()` gives the means over all of them."""

    def __init__(self) -> None:
        self.n = 0
        self.totals = {"exact_match": 0.0, "f1": 0.0, "contains": 0.0}

    def add(self, prediction: str, golds: Sequence[str]) -> dict[str, float]:
        """Score one prediction against its gold answers (at least one); return its scores."""
        scores = {
            "exact_match": exact_match(prediction, golds),
            "f1": f1(prediction, golds),
            "contains": float(contains(prediction, golds)),
        }
        self.n += 1
        for name, value in scores.items():
            self.totals[name] += value
        return scores

    def result(self) -> dict[str, float]:
        if not self.n:
            raise ValueError("no predictions were scored")
        return {"n": self.n, **{name: total / self.n for name, total in self.totals.items()}}
