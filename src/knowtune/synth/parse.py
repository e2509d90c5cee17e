"""Reading model replies: a summary, a list of facts, a list of questions, an answer, a judge's score.

Each parser returns None when the reply holds nothing usable (the call is then asked again) and
never raises: models write lists as JSON, as bullets, as numbered lines or as one paragraph, wrap
them in code fences, and run on past the end of the format. What is clearly not content (empty
items, a preamble such as "Here are the facts:") is left out.
"""

from __future__ import annotations

import json
import re

from knowtune.data.chunk import sentence_spans

_FENCE = re.compile(r"^```\w*\s*|\s*```$")
_MARKER = re.compile(r"^\s*(?:[-*•·](?=\s)|\d+[.):]|\(\d+\)|(?:fact|item)\s*\d*\s*[:.)-])\s*", re.IGNORECASE)
_PREAMBLE = re.compile(r":\s*$")  # "Here are the facts:" introduces a list, it is not a fact
# "Q:", "Question 2:", "**A.** " - a label, not content; "A-list" is content.
_LABEL = re.compile(
    r"^\s*(?:\*\*)?(?:q(?:uestion)?|a(?:nswer)?)\s*\d*\s*(?:\*\*)?\s*(?::|\)|[.-](?=\s))\s*(?:\*\*)?\s*", re.IGNORECASE
)
_PREAMBLE_ANSWER = re.compile(r"^(?:the\s+)?answer(?:\s+to\s+(?:the|this)\s+question)?\s+is\s*:?\s*", re.IGNORECASE)
_SCORE = re.compile(r"\b([1-5])\b")
_MIN_FACT_WORDS = 4


def _load_json(reply: str):
    try:
        return json.loads(_FENCE.sub("", reply.strip()))
    except json.JSONDecodeError:
        return None


def parse_summary(reply: str) -> str | None:
    """The first non-empty line, without a "Summary:" label."""
    for line in reply.splitlines():
        line = re.sub(r"^\s*(?:topic|summary)\s*:\s*", "", line, flags=re.IGNORECASE).strip()
        if line:
            return line
    return None


def parse_facts(reply: str) -> list[str] | None:
    """Facts from a JSON list, or the sentences of the reply's lines (list markers dropped)."""
    loaded = _load_json(reply)
    if isinstance(loaded, dict):
        loaded = next((v for v in loaded.values() if isinstance(v, list)), None)
    if isinstance(loaded, list):
        candidates = [item if isinstance(item, str) else str(item.get("fact", "")) for item in loaded
                      if isinstance(item, (str, dict))]
    else:
        # A model may list facts, write them as prose, or both; a line that is not a fact (a
        # closing remark) is dropped later, because its words are not in the chunk.
        candidates = []
        for line in reply.splitlines():
            line = _MARKER.sub("", line).strip()
            if line and not line.startswith("```"):
                candidates.extend(line[start:end] for start, end in sentence_spans(line))
    facts, seen = [], set()
    for fact in candidates:
        fact = fact.strip().strip("\"'“”").strip()
        if len(fact.split()) < _MIN_FACT_WORDS or _PREAMBLE.search(fact) or fact.lower() in seen:
            continue
        seen.add(fact.lower())
        facts.append(fact if fact[-1] in ".!?。！？" else fact + ".")
    return facts or None


def parse_questions(reply: str) -> list[str] | None:
    """Questions from a JSON list or from lines (numbered, bulleted, "Q:"); each must end in a question mark."""
    loaded = _load_json(reply)
    if isinstance(loaded, dict):
        loaded = next((v for v in loaded.values() if isinstance(v, list)), [loaded])
    if isinstance(loaded, list):
        lines = [item if isinstance(item, str) else str(item.get("question", "")) for item in loaded
                 if isinstance(item, (str, dict))]
    else:
        lines = reply.splitlines()
    questions, seen = [], set()
    for line in lines:
        line = _LABEL.sub("", _MARKER.sub("", line)).strip().strip("\"'“”*").strip()
        mark = min((i for i in (line.find("?"), line.find("？")) if i >= 0), default=-1)
        if mark < 0:
            continue
        question = line[: mark + 1]  # whatever follows the question mark is the model running on
        if len(question.split()) >= 3 and question.lower() not in seen:
            seen.add(question.lower())
            questions.append(question)
    return questions or None


def parse_answer(reply: str) -> str | None:
    """The first line of the reply, without an "Answer:" label or a "The answer is" preamble."""
    loaded = _load_json(reply)
    if isinstance(loaded, dict) and isinstance(loaded.get("answer"), str):
        reply = loaded["answer"]
    for line in reply.splitlines():
        line = _PREAMBLE_ANSWER.sub("", _LABEL.sub("", line)).strip().strip("\"'“”*").strip()
        if line:
            return line
    return None


def parse_score(reply: str) -> int | None:
    """The first number from 1 to 5."""
    found = _SCORE.search(reply)
    return int(found.group(1)) if found else None
