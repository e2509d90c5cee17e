"""Retrieval over the documents' chunks: the baseline a fine-tune has to beat.

Passages are the same token chunks that `knowtune generate` asked its questions about (its
chunks.jsonl, or documents chunked here the same way), ranked by BM25 (the `bm25s` library).
Tokens are those the QA metrics use (`qa_metrics.tokenize`): lowercased words for space-separated
scripts and one token per CJK character, since Chinese has no spaces between words; stopwords of
English and Chinese are dropped so that "what is the" matches nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from knowtune.errors import UserError
from knowtune.evaluate.qa_metrics import normalize_answer, tokenize


@dataclass(frozen=True)
class Passage:
    document: str  # the source document, as generation names it
    chunk: int  # position of the chunk within its document, from 0
    text: str


def read_chunks(path: str | Path) -> list[Passage]:
    """Passages from a chunks.jsonl: one {"document", "chunk", "text"} object per line."""
    passages = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                passages.append(Passage(str(record["document"]), int(record["chunk"]), str(record["text"])))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
                raise UserError(f"{path}:{number}: not a chunk record {{document, chunk, text}} ({e})") from None
    if not passages:
        raise UserError(f"{path}: no chunk in it")
    return passages


def chunk_documents(paths: list[str], count_tokens: Callable[[str], int], size: int, overlap: int = 0) -> list[Passage]:
    """Documents under `paths` (txt, md, docx, pdf, jsonl) chunked as `knowtune generate` chunks them."""
    from knowtune.data.chunk import chunk_document
    from knowtune.data.ingest import FILE_TYPES, read_documents

    documents, _ = read_documents(paths, list(FILE_TYPES))
    return [Passage(c.document, c.index, c.text)
            for d in documents for c in chunk_document(d, count_tokens, size, overlap)]


def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_CHINESE, STOPWORDS_EN

    return frozenset(STOPWORDS_EN) | frozenset(STOPWORDS_CHINESE)


def retrieval_tokens(text: str, stopwords: frozenset[str] = frozenset()) -> list[str]:
    """Normalised tokens (words; single CJK characters) without stopwords."""
    return [t for t in tokenize(normalize_answer(text)) if t not in stopwords]


class BM25Index:
    """BM25 over passages; `search` gives each query's top k passages that share a term with it, best first."""

    def __init__(self, passages: Sequence[Passage]):
        import bm25s

        if not passages:
            raise UserError("retrieval: there is no passage to search")
        self.passages = list(passages)
        self.stopwords = _stopwords()
        self.index = bm25s.BM25()
        # create_empty_token: a query with no known token then scores every passage 0 instead of failing.
        self.index.index([retrieval_tokens(p.text, self.stopwords) for p in self.passages],
                         create_empty_token=True, show_progress=False)

    def search(self, queries: Sequence[str], k: int) -> list[list[Passage]]:
        k = min(k, len(self.passages))
        tokens = [retrieval_tokens(q, self.stopwords) or [""] for q in queries]
        found, scores = self.index.retrieve(tokens, k=k, show_progress=False)
        # A passage sharing no term with the question scores 0: it would only be noise in the prompt.
        return [[self.passages[i] for i, score in zip(row, row_scores) if score > 0]
                for row, row_scores in zip(found.tolist(), scores.tolist())]


def with_context(question: str, passages: Sequence[Passage]) -> str:
    """The question after its passages, as a QA record with a `context` is shown to the model."""
    context = "\n\n".join(p.text for p in passages)
    return f"{context}\n\n{question}"
