"""Facts and Q&A pairs: what generation makes, and the deterministic way to make them.

`sentence_facts` turns every informative sentence of a chunk into a standalone fact (no model);
`template_pairs` writes each fact's questions from its answer spans (no model), trained with
the fact itself as the answer, so every answer is the document's own words.
"""

from __future__ import annotations

from dataclasses import dataclass

from knowtune.data.chunk import Chunk
from knowtune.synth.sentences import Sentence
from knowtune.synth.templates import IsCommon, fact_questions

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
        Fact(f"{chunk.id}/s{k}", chunk, "", s.text, origin="sentence", language=s.language)
        for k, s in enumerate(inside)
    ]


def template_pairs(fact: Fact, is_common: IsCommon, limit: int, at_least: int, personas: list[str]) -> list[Pair]:
    """Up to `limit` questions about `fact`, alternating answer spans and forms so each span is asked.

    A fact with few answer spans has few forms; its real questions are asked again in the voice of
    the personas ("I am a journalist checking facts. ...") until it has `at_least`.
    """
    questions = fact_questions(fact.text, fact.language, is_common)
    by_form: dict[str, list] = {}
    for q in questions:
        by_form.setdefault(q.form, []).append(q)
    # Round robin over forms: in place first (the most natural), then fronted, then blanks.
    ordered = []
    for i in range(max((len(v) for v in by_form.values()), default=0)):
        ordered += [by_form[form][i] for form in ("in_place", "fronted", "blank") if i < len(by_form.get(form, []))]
    pairs = [Pair(fact, None, q.text, fact.text, key=q.answer, form=q.form) for q in ordered[:limit]]
    real = [q for q in ordered if q.form in HELDOUT_FORMS] or ordered
    for k in range(min(at_least, limit) - len(pairs) if real else 0):
        q, persona = real[k % len(real)], personas[k % len(personas)]
        voice = f"我是{persona}。" if fact.language == "zh" else f"I am {persona}. "
        pairs.append(Pair(fact, persona, voice + q.text, fact.text, key=q.answer, form="persona"))
    return pairs
