"""Token-based chunking on sentence boundaries, each chunk keeping where it came from.

A chunk is a slice of its document's cleaned text: whole sentences, at most `size` tokens of the
given tokenizer (counted exactly on the slice), starting with up to `overlap` tokens of whole
sentences from the end of the previous chunk. A sentence longer than `size` is cut between words;
a single word longer than `size` tokens stays whole, so no text is ever dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from knowtune.data.ingest import Document

# Words whose trailing period does not end a sentence ("Dr. Ansel Moriquet", "e.g. this").
_ABBREVIATIONS = frozenset(
    "dr mr mrs ms prof st jr sr mt no vol fig al etc vs e.g i.e approx dept est inc ltd co corp jan feb mar apr "
    "jun jul aug sep sept oct nov dec".split()
)
# A sentence ends at . ! ? (closing quotes/brackets included) before whitespace and an uppercase
# letter, a digit, an opening quote or a CJK character; CJK full stops end one wherever they are.
_LATIN_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af])")
_CJK_END = re.compile(r"[。！？][”’」』)]*")
_PARAGRAPH = re.compile(r"[^\n]+")


@dataclass(frozen=True)
class Chunk:
    document: str  # Document.source
    index: int  # position of the chunk within its document, from 0
    start: int  # character offsets of the chunk in the document's cleaned text
    end: int
    text: str
    n_tokens: int

    @property
    def id(self) -> str:
        return f"{self.document}#{self.index}"


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every sentence; a paragraph break always ends one."""
    spans = []
    for paragraph in _PARAGRAPH.finditer(text):
        start, para = paragraph.start(), paragraph.group()
        ends = sorted({m.end() for m in _LATIN_END.finditer(para) if not _is_abbreviation(para, m.start())}
                      | {m.end() for m in _CJK_END.finditer(para)})
        cut = 0
        for end in [*ends, len(para)]:
            piece = para[cut:end]
            if piece.strip():
                offset = len(piece) - len(piece.lstrip())
                spans.append((start + cut + offset, start + end))
            cut = end
    return spans


def _is_abbreviation(paragraph: str, dot: int) -> bool:
    if paragraph[dot] != ".":
        return False
    word = re.search(r"[\w.]*$", paragraph[:dot]).group().lower()
    # "J. R. Tolkien": a single capital letter before the period is an initial.
    return word in _ABBREVIATIONS or (len(word) == 1 and paragraph[dot - 1].isupper())


def _word_spans(text: str, start: int, end: int, fits: Callable[[int, int], bool]) -> list[tuple[int, int]]:
    """Cut an over-long sentence into pieces that fit, between words."""
    words = [(start + m.start(), start + m.end()) for m in re.finditer(r"\S+", text[start:end])]
    pieces, first = [], 0
    while first < len(words):
        last = first
        while last + 1 < len(words) and fits(words[first][0], words[last + 1][1]):
            last += 1
        pieces.append((words[first][0], words[last][1]))
        first = last + 1
    return pieces


def chunk_document(
    document: Document, count_tokens: Callable[[str], int], size: int, overlap: int = 0
) -> list[Chunk]:
    """Split a document into chunks of whole sentences of at most `size` tokens each."""
    text = document.text

    def tokens(start: int, end: int) -> int:
        return count_tokens(text[start:end])

    def fits(start: int, end: int) -> bool:
        return tokens(start, end) <= size

    units: list[tuple[int, int]] = []
    for start, end in sentence_spans(text):
        units.extend([(start, end)] if fits(start, end) else _word_spans(text, start, end, fits))

    chunks: list[Chunk] = []
    first = 0
    while first < len(units):
        last = first
        while last + 1 < len(units) and fits(units[first][0], units[last + 1][1]):
            last += 1
        start, end = units[first][0], units[last][1]
        chunks.append(Chunk(document.source, len(chunks), start, end, text[start:end], tokens(start, end)))
        if last + 1 == len(units):
            break
        # The next chunk begins with the last sentences of this one that fit in `overlap`, and
        # always after this chunk's first sentence, so every step moves forward.
        following = last + 1
        while following - 1 > first and tokens(units[following - 1][0], end) <= overlap:
            following -= 1
        first = following
    return chunks
