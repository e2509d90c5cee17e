"""The shipped prompts and personas: defaults of `knowtune generate`'s config, replaceable there.

Each prompt is a `str.format` template. A pair is written in two calls: one persona's questions
about a fact, then each question's answer with the fact in view. Asking and answering apart is
what a small local model does reliably (asked for "Q: ... A: ..." pairs in one reply, SmolLM2-135M
loops or answers from its own imagination); a large model does well either way, at the cost of
one call per answer. The formats asked for are plain lines, which small models follow far more
often than JSON; the parsers accept JSON as well.
"""

from __future__ import annotations

SUMMARY = "Text:\n{text}\n\nWhat is this text about? Answer with one short sentence."

# Seed 002 puts the chunk's topic summary into this prompt. SmolLM2-135M, shown a summary, repeats
# it instead of listing facts (measured on the demo corpus), so the shipped prompt leaves it out;
# a template that uses {summary} has the summaries made and filled in.
FACTS = (
    "Text:\n{text}\n\n"
    'List every fact in this text, one per line, starting with "- ". Name the subject in every fact '
    'instead of writing "it" or "its".'
)

QUESTIONS = (
    'Read this fact: "{fact}"\n'
    "Write {n} different quiz questions about it that {persona} would ask, one per line."
)

ANSWER = "Fact: {fact}\nQuestion: {question}\nAnswer the question in a few words, using only the fact."

JUDGE = (
    "Fact: {fact}\n"
    "Question: {question}\n"
    "Answer: {answer}\n\n"
    "Is the answer a correct answer to the question, according to the fact? Rate it from 1 (wrong or "
    "not in the fact) to 5 (correct and fully supported by the fact). Reply with the number only."
)

REASK = (
    "Your reply did not give what was asked for. Answer again in exactly the format asked for, and write "
    "nothing else."
)

# Placeholders each template must use, and those it may use.
PLACEHOLDERS = {
    "summary": ({"text"}, set()),
    "facts": ({"text"}, {"summary"}),
    "questions": ({"fact"}, {"persona", "n", "summary"}),
    "answer": ({"fact", "question"}, {"summary"}),
    "judge": ({"fact", "question", "answer"}, set()),
}

# Who asks: each fact gets questions worded by several of these, so that training sees one fact
# from several angles (seed 002's persona-based diversification).
PERSONAS = [
    "a curious student",
    "a journalist checking facts",
    "an engineer who wants precise details",
    "a teacher writing a quiz",
    "a tourist visiting for the first time",
    "a local historian",
]
