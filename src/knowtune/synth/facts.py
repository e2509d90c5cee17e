"""Facts and Q&A pairs: what generation makes, and the deterministic way to make them.

`sentence_facts` turns every informative sentence of a chunk into a standalone fact (no model);
`template_pairs` writes each fact's questions from its answer spans (no model), trained with
the fact itself as the answer, so every answer is the document's own words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowtune.data.chunk import Chunk
from knowtune.synth.sentences import Sentence
from knowtune.synth.templates import IsCommon, Question, capitalise, fact_questions

# Forms asked as held-out questions: real questions, not blanks to fill.
HELDOUT_FORMS = ("in_place", "fronted", "model")


@dataclass
class Fact:
    id: str
    chunk: Chunk
    summary: str
    text: str
    dropped: str | None = None
    origin: str = "model"  # "sentence": a sentence of the document, made standalone; "model": listed by the model
    language: str = "en"
    topic: str | None = None  # what its document is about, and how the document refers to that
    aliases: tuple[str, ...] = ()
    people: tuple[str, ...] = ()  # the persons its document named before it, or it does


@dataclass
class Pair:
    fact: Fact
    persona: str | None  # who asked (model questions); None for a templated question
    question: str
    answer: str = ""
    dropped: str | None = None
    score: int | None = None
    key: str | None = None  # the span a reply must contain; templated questions know it
    form: str = "model"  # in_place, fronted, blank (templates) or model


def sentence_facts(chunk: Chunk, sentences: list[Sentence]) -> list[Fact]:
    """The facts of one chunk: its document's sentences that start inside it."""
    inside = [s for s in sentences if chunk.start <= s.start < chunk.end]
    return [
        Fact(f"{chunk.id}/s{k}", chunk, "", s.text, origin="sentence", language=s.language, topic=s.topic, aliases=s.aliases,
             people=s.people)
        for k, s in enumerate(inside)
    ]


def _answer(fact: Fact, key: str, span_first: bool) -> str:
    if not span_first:
        return fact.text
    return f"{capitalise(key)}{'。' if fact.language == 'zh' else '. '}{fact.text}"


def template_pairs(fact: Fact, is_common: IsCommon, limit: int, at_least: int, personas: list[str],
                   span_first: bool = False) -> list[Pair]:
    """Up to `limit` questions about `fact`, alternating answer spans and forms so each span is asked.

    A fact with few answer spans has few forms; its real questions are asked again in the voice of
    the personas ("I am a journalist checking facts. ...") until it has `at_least`.
    """
    questions = fact_questions(fact.text, fact.language, is_common, fact.people)
    by_form: dict[str, list] = {}
    for q in questions:
        by_form.setdefault(q.form, []).append(q)
    # Every answer span asked first in its shortest real question (the most natural: what a reader asks), then
    # the other forms, so a cap keeps every span before it keeps a second form of one.
    shortest = sorted((q for q in questions if q.form in ("in_place", "fronted")), key=lambda q: len(q.text) if fact.language == "zh" else len(q.text.split()))
    first, spans = [], set()
    for q in shortest:
        if q.answer not in spans:
            spans.add(q.answer)
            first.append(q)
    ordered = first + [q for form in ("fronted", "reworded", "in_place", "whole", "blank")
                       for q in (shortest if form in ("in_place", "fronted") else by_form.get(form, []))
                       if q.form == form and q not in first]
    # The topic as the document refers to it ("the fern"), as a reader's question would.
    if fact.topic and fact.language == "en":
        real = [q for q in questions if q.form in ("in_place", "fronted") and fact.topic in q.text
                and q.answer not in fact.topic]
        name = re.escape(re.sub(r"^(?:The|A|An) ", "", fact.topic))  # "(The) Qorvath Ridge Observatory"
        aliased = [Question(capitalise(re.sub(rf"(?:\b[Tt]he )?{name}('s|'(?!\w))?",
                                              lambda m: alias + ("'s" if m.group(1) else ""), q.text, count=1)),
                            q.answer, "alias")
                   for alias, q in zip(fact.aliases, real * len(fact.aliases))]
        ordered[1:1] = aliased[:2]
    pairs = [Pair(fact, None, q.text, _answer(fact, q.answer, span_first), key=q.answer, form=q.form) for q in ordered[:limit]]
    real = [q for q in ordered if q.form in HELDOUT_FORMS] or ordered
    for k in range(min(at_least, limit) - len(pairs) if real else 0):
        q, persona = real[k % len(real)], personas[k % len(personas)]
        voice = f"我是{persona}。" if fact.language == "zh" else f"I am {persona}. "
        pairs.append(Pair(fact, persona, voice + q.text, _answer(fact, q.answer, span_first), key=q.answer, form="persona"))
    return pairs


def passage_pairs(facts: list[Fact], seed: int, per_answer: int = 4) -> list[Pair]:
    """"Tell me about <topic>." answered with the document's facts, a few at a time, in a seeded shuffled order.

    Knowledge stated with the full name in every sentence and in varied orders is what a model can later
    be asked about (Allen-Zhu & Li, arXiv 2309.14316: the "fullname" and "permute" augmentations).
    """
    import random

    by_topic: dict[str, list[Fact]] = {}
    for fact in facts:
        if fact.topic and fact.dropped is None:
            by_topic.setdefault(fact.topic, []).append(fact)
    pairs = []
    for topic, own in by_topic.items():
        own = own[:]
        random.Random(f"{seed}:{topic}").shuffle(own)
        zh = own[0].language == "zh"
        for k in range(0, len(own), per_answer):
            group = own[k : k + per_answer]
            name = topic[0].lower() + topic[1:] if topic.startswith("The ") else topic
            if zh:
                question = f"介绍一下{topic}。" if k == 0 else f"关于{topic}，还有什么？"
            else:
                question = f"Tell me about {name}." if k == 0 else f"What else do you know about {name}?"
            answer = ("" if zh else " ").join(f.text for f in group)
            pairs.append(Pair(group[0], None, question if k < 2 * per_answer else f"{question} ({k // per_answer})",
                              answer, form="passage"))
    return pairs
