"""Documents in: .txt, .md, .docx, .pdf files and JSONL records with a text field, as clean text.

A folder is searched recursively. A source that cannot be read (a corrupt PDF or DOCX, text that
is not UTF-8, a JSONL line without the text field, a file with no text) is skipped with a
one-line reason naming it, and the rest are read; the caller reports what was skipped. Only when
nothing at all can be read is it an error.
"""

from __future__ import annotations

import json
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

from knowtune.data.clean import clean_text
from knowtune.errors import UserError

FILE_TYPES = ("txt", "md", "docx", "pdf", "jsonl")


@dataclass(frozen=True)
class Document:
    source: str  # the file as found ("docs/a.pdf"), or "file.jsonl:LINE" for a JSONL record
    text: str  # cleaned: one line per paragraph, a blank line between paragraphs


@dataclass(frozen=True)
class Skipped:
    source: str  # a file, a file:line, or a model request
    reason: str


class Unreadable(Exception):
    """A source that is skipped; the message is the reason."""


def find_files(paths: list[str], file_types: list[str]) -> list[Path]:
    """The files to read, in a stable order: folders searched recursively, filtered by type."""
    suffixes = {f".{t}" for t in file_types}
    files: list[Path] = []
    for name in paths:
        path = Path(name).expanduser()
        if path.is_file():
            if path.suffix.lower() not in suffixes:
                raise UserError(f"{path}: file type '{path.suffix}' is not among file_type ({', '.join(file_types)})")
            files.append(path)
        elif path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
            if not found:
                kinds = "/".join(sorted(suffixes))
                raise UserError(f"{path}: folder has no {kinds} files (file_type={','.join(file_types)})")
            files.extend(found)
        else:
            raise UserError(f"data_path {path}: no such file or directory")
    return files


def read_documents(
    paths: list[str], file_types: list[str], text_field: str = "text"
) -> tuple[list[Document], list[Skipped]]:
    """Every readable document under `paths`, and the sources skipped with their reasons."""
    documents: list[Document] = []
    skipped: list[Skipped] = []
    for path in find_files(paths, file_types):
        if path.suffix.lower() == ".jsonl":
            found, bad = _read_jsonl(path, text_field)
            documents.extend(found)
            skipped.extend(bad)
            continue
        try:
            text = clean_text(_read_file(path), markdown=path.suffix.lower() == ".md")
            if not text:
                raise Unreadable("no text in it")
            documents.append(Document(str(path), text))
        except Unreadable as e:
            skipped.append(Skipped(str(path), str(e)))
    if not documents:
        reasons = "; ".join(f"{s.source}: {s.reason}" for s in skipped[:5])
        raise UserError(f"no readable document in {', '.join(paths)} ({reasons})")
    return documents, skipped


def _read_file(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return _read_pdf(path)
    if suffix == ".docx":
        return _read_docx(path)
    return decode(path.read_bytes())


def decode(raw: bytes) -> str:
    """UTF-8 (a BOM tolerated) or UTF-16 with a BOM; anything else is not guessed at."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as e:
            raise Unreadable(f"invalid UTF-16 text at byte {e.start}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise Unreadable(
            f"not UTF-8 text (byte 0x{raw[e.start]:02x} on line {line}); convert it to UTF-8, e.g. with iconv"
        ) from None


def _read_pdf(path: Path) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    # pypdf logs every repair it attempts; the one-line reason below is what the user needs.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            raise Unreadable("the PDF is encrypted")
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PyPdfError, OSError, ValueError, KeyError, TypeError) as e:  # pypdf raises all of these on damaged files
        raise Unreadable(f"cannot read as PDF ({_first_line(e)})") from None
    if not any(p.strip() for p in pages):
        raise Unreadable("the PDF has no text layer (a scan?); run OCR on it first")
    return "\n\n".join(pages)


def _read_docx(path: Path) -> str:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as e:
        raise Unreadable(f"cannot read as DOCX ({_first_line(e)})") from None
    blocks = [p.text for p in document.paragraphs]
    for table in document.tables:
        blocks.extend(" | ".join(cell.text for cell in row.cells) for row in table.rows)
    return "\n\n".join(blocks)


def _read_jsonl(path: Path, text_field: str) -> tuple[list[Document], list[Skipped]]:
    documents, skipped = [], []
    try:
        text = decode(path.read_bytes())
    except Unreadable as e:
        return [], [Skipped(str(path), str(e))]
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            skipped.append(Skipped(where, f"invalid JSON ({e.msg}, column {e.colno})"))
            continue
        value = record.get(text_field) if isinstance(record, dict) else None
        if not isinstance(value, str) or not value.strip():
            skipped.append(Skipped(where, f"no text in field '{text_field}'"))
            continue
        documents.append(Document(where, clean_text(value)))
    return documents, skipped


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
