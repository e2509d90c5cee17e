"""Text cleaning for ingested documents: one paragraph per block, separated by a blank line.

PDF and DOCX extraction leave hard line breaks inside paragraphs, words hyphenated across lines
and ligature characters; Markdown carries markup that a model would copy into facts. What comes
out is plain prose whose paragraph breaks are real ones, so that chunking can cut on them.
"""

from __future__ import annotations

import re
import unicodedata

# Control characters other than tab and newline (form feeds from PDFs, NULs, escape codes).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# "informa-\ntion" -> "information"; only before a lowercase letter, so "Jean-\nLuc" keeps its hyphen.
_HYPHENATED = re.compile(r"(\w)-\n\s*([a-z])")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")

_MD_FENCE = re.compile(r"^\s*(```|~~~).*$", re.MULTILINE)
_MD_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
# Inside a word (snake_case, 2*3) these characters are not markup.
_MD_EMPHASIS = re.compile(r"(?<!\w)(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1(?!\w)")
# Headings, bullets and block quotes start a paragraph of their own; their markers go.
_MD_BLOCK_START = re.compile(r"^\s*(#{1,6}\s+|[-*+]\s+|>\s?)", re.MULTILINE)
# Numbered items too, but their number stays: it may be content ("1743. It was...") after all.
_MD_NUMBERED = re.compile(r"^\s*(\d+[.)]\s)", re.MULTILINE)
_MD_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}.*$", re.MULTILINE)


def strip_markdown(text: str) -> str:
    """Markdown to plain text; block starts become paragraph breaks so that items stay apart."""
    text = _MD_COMMENT.sub("", text)
    text = _MD_FENCE.sub("", text)
    text = _MD_TABLE_RULE.sub("", text)
    text = _MD_IMAGE.sub(r"\1", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_EMPHASIS.sub(r"\2", text)
    text = _MD_NUMBERED.sub(r"\n\n\1", text)
    return _MD_BLOCK_START.sub("\n\n", text)


def clean_text(text: str, markdown: bool = False) -> str:
    """Normalized text: NFKC, no control characters, one line per paragraph, blank line between."""
    # NFKC folds ligatures (ﬁ -> fi) and full-width forms that PDF extraction produces.
    text = unicodedata.normalize("NFKC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub(" ", text)
    if markdown:
        text = strip_markdown(text)
    text = _HYPHENATED.sub(r"\1\2", text)
    paragraphs = (" ".join(block.split()) for block in _PARAGRAPH_BREAK.split(text))
    return "\n\n".join(p for p in paragraphs if p)
