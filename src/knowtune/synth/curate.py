"""Which facts and pairs are kept: grounded, standalone, supported, not giving the answer away, not repeated.

The checks compare content words (SQuAD normalisation and CJK-per-character tokens, as the QA
metrics use, minus function words and a plural "s"), so they cost nothing and say exactly why
something was dropped. They are conservative filters for what a small model gets wrong most:
facts it made up, pronouns left unresolved, questions about things the fact does not say,
answers that are not in the fact, questions that contain their own answer, and the same
question over and over.
"""

from __future__ import annotations

import re

from knowtune.evaluate.qa_metrics import normalize_answer, tokenize

_FUNCTION_WORDS = frozenset(
    """a an the of in on at to for by with from into onto over under about as and or but nor so if then than
    is are was were be been being am do does did done has have had having not no yes it its it's this that
    these those there here he him his she her hers they them their theirs we us our you your i me my mine
    what which who whom whose when where why how whether can could will would shall should may might must
    also very just only still such some any each every all both either neither one ones other another""".split()
)
# A fact that starts with one of these leans on a sentence before it: "It was founded in 1743."
_LEADING_PRONOUNS = frozenset("it its he his she her they their them this these those such".split())

DROP_UNGROUNDED = "fact not found in its chunk"
DROP_NOT_STANDALONE = "fact starts with a pronoun (not standalone)"
DROP_DUPLICATE_FACT = "near-duplicate of an earlier fact"
DROP_REPETITIVE = "fact repeats itself (a model stuck in a loop)"
DROP_QUESTION_OFF_FACT = "question not about the fact"
DROP_UNSUPPORTED = "answer not supported by the fact"
DROP_GIVES_AWAY = "question gives the answer away"
DROP_DUPLICATE_QUESTION = "near-duplicate question"
DROP_SAME_TEXT = "question and answer are the same"
DROP_JUDGE = "judge score below threshold"
DROP_JUDGE_UNPARSEABLE = "judge gave no score"
DROP_NO_ANSWER = "no usable answer (its model call was skipped)"
DROP_SURPLUS = "more pairs than qa_amount_per_fact from one persona"


def content_words(text: str) -> set[str]:
    words = set()
    for token in tokenize(normalize_answer(text)):
        if token in _FUNCTION_WORDS:
            continue
        words.add(token[:-1] if len(token) > 3 and token.endswith("s") and not token.endswith("ss") else token)
    return words


def support(words: set[str], source: set[str]) -> float:
    """Share of `words` found in `source` (1.0 when there are none to check)."""
    return len(words & source) / len(words) if words else 1.0


def similarity(a: set[str], b: set[str]) -> float:
    """Jaccard similarity of two word sets."""
    return len(a & b) / len(a | b) if a | b else 1.0


def check_fact(fact: str, chunk_words: set[str], min_support: float) -> str | None:
    """Why a fact is dropped, or None to keep it."""
    first = fact.split()[0].lower().strip("\"'“”(") if fact.split() else ""
    if first in _LEADING_PRONOUNS:
        return DROP_NOT_STANDALONE
    words = re.findall(r"\w+", fact.lower())
    # A sentence rarely uses half its words twice; "Dr. Moriquet, Dr. Moriquet, Dr. ..." does.
    if len(words) >= 12 and len(set(words)) < len(words) / 2:
        return DROP_REPETITIVE
    if support(content_words(fact), chunk_words) < min_support:
        return DROP_UNGROUNDED
    return None


def check_pair(
    question: str, answer: str, fact: str, min_question_support: float, min_answer_support: float
) -> str | None:
    """Why a pair is dropped, or None to keep it.

    The question must be mostly about the fact's words: a question that presupposes something the
    fact does not say ("the town's main port") has no answer in it. What the answer adds to the
    question must be mostly the fact's words, and at least one of them; an answer that only
    restates its question means the question gave the answer away.
    """
    question_words, answer_words, fact_words = content_words(question), content_words(answer), content_words(fact)
    if normalize_answer(question) == normalize_answer(answer):
        return DROP_SAME_TEXT
    if support(question_words, fact_words) < min_question_support:
        return DROP_QUESTION_OFF_FACT
    added = answer_words - question_words
    if not added:
        return DROP_GIVES_AWAY
    if support(added, fact_words) < min_answer_support:
        return DROP_UNSUPPORTED
    return None


def new_words(question: str, answer: str, fact: str) -> set[str]:
    """Content words of the answer that come from the fact and that the question does not hold."""
    return (content_words(answer) & content_words(fact)) - content_words(question)


def key_answer(question: str, answer: str, fact: str) -> str:
    """The shortest stretch of `answer` holding all its new words: "1743" of "It was cast in 1743."

    A held-out reply is scored by whether it contains the answer, so the answer must be the part
    that carries the fact, not the sentence around it.
    """
    words = new_words(question, answer, fact)
    spans = [m.span() for m in re.finditer(r"\w+", answer) if content_words(m.group()) & words]
    return answer[spans[0][0] : spans[-1][1]] if spans else answer


def near_duplicates(texts: list[str], threshold: float) -> list[int | None]:
    """For each text, the index of an earlier kept text it nearly repeats, or None if it is kept."""
    kept: list[tuple[int, set[str]]] = []
    result: list[int | None] = []
    for index, text in enumerate(texts):
        words = content_words(text)
        earlier = next((k for k, other in kept if similarity(words, other) >= threshold), None)
        result.append(earlier)
        if earlier is None:
            kept.append((index, words))
    return result
