"""Ingest and chunking: every file type, bad files skipped with their reason, chunks on sentence boundaries."""

import json

import docx
import pytest

from knowtune.data.chunk import Chunk, chunk_document, sentence_spans
from knowtune.data.clean import clean_text
from knowtune.data.ingest import Document, read_documents
from knowtune.errors import UserError
from tiny_models import build_tiny_tokenizer

ALL = ["txt", "md", "docx", "pdf", "jsonl"]


def make_pdf(pages: list[str]) -> bytes:
    """A minimal valid PDF with one text line per page line (Helvetica), written by hand."""
    n_pages = len(pages)
    font = 3 + 2 * n_pages
    objects = ["<< /Type /Catalog /Pages 2 0 R >>",
               f"<< /Type /Pages /Kids [{' '.join(f'{3 + 2 * i} 0 R' for i in range(n_pages))}] /Count {n_pages} >>"]
    for i, text in enumerate(pages):
        stream = "BT /F1 12 Tf 72 720 Td " + " ".join(f"({line}) Tj 0 -16 Td" for line in text.split("\n")) + " ET"
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                       f"/Resources << /Font << /F1 {font} 0 R >> >> /Contents {4 + 2 * i} 0 R >>")
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    return out + f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("Vellmoor was founded by Odrin Kestavel.\nThe town is on the coast.\n", encoding="utf-8")
    (root / "sub" / "b.md").write_text("# Tarnwick\n\nTarnwick makes **barometers**, see [site](http://x).\n- It employs 417 people.\n")
    (root / "c.pdf").write_bytes(make_pdf(["The tide bell was cast in 1743. It rings at every", "high tide. The informa-\ntion is old."]))
    document = docx.Document()
    document.add_paragraph("Dr. Ansel Moriquet invented the thrumwheel.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Founded", "1902"
    document.save(root / "d.docx")
    (root / "e.jsonl").write_text(json.dumps({"text": "Serpentil is a green stone."}) + "\n\n" + json.dumps({"body": "x"}) + "\n")
    return root


def test_reads_every_type_cleaned_with_its_source(corpus):
    documents, skipped = read_documents([str(corpus)], ALL)
    texts = {d.source.replace(str(corpus) + "/", ""): d.text for d in documents}
    assert texts == {
        "a.txt": "Vellmoor was founded by Odrin Kestavel. The town is on the coast.",
        "c.pdf": "The tide bell was cast in 1743. It rings at every\n\nhigh tide. The information is old.",
        "d.docx": "Dr. Ansel Moriquet invented the thrumwheel.\n\nFounded | 1902",
        "e.jsonl:1": "Serpentil is a green stone.",
        "sub/b.md": "Tarnwick\n\nTarnwick makes barometers, see site.\n\nIt employs 417 people.",
    }
    assert [(s.source.replace(str(corpus) + "/", ""), s.reason) for s in skipped] == [("e.jsonl:3", "no text in field 'text'")]


def test_file_type_filter(corpus):
    documents, _ = read_documents([str(corpus)], ["docx", "md"])
    assert sorted(d.source.rsplit("/", 1)[1] for d in documents) == ["b.md", "d.docx"]


def test_bad_files_are_skipped_with_a_reason_and_the_rest_is_read(corpus):
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not a pdf\n")
    (corpus / "broken.docx").write_bytes(b"PK\x03\x04 not a zip archive")
    (corpus / "latin1.txt").write_bytes("Caf\xe9 au lait.\nLine two.".encode("latin-1"))
    (corpus / "scan.pdf").write_bytes(make_pdf([""]))
    (corpus / "empty.txt").write_text("  \n\n")
    (corpus / "bad.jsonl").write_text('{"text": "fine line here."}\n{"text": \n')
    documents, skipped = read_documents([str(corpus)], ALL)
    reasons = {s.source.replace(str(corpus) + "/", ""): s.reason for s in skipped}
    assert reasons["broken.pdf"].startswith("cannot read as PDF")
    assert reasons["broken.docx"].startswith("cannot read as DOCX")
    assert reasons["latin1.txt"] == "not UTF-8 text (byte 0xe9 on line 1); convert it to UTF-8, e.g. with iconv"
    assert reasons["scan.pdf"].startswith("the PDF has no text layer")
    assert reasons["empty.txt"] == "no text in it"
    assert reasons["bad.jsonl:2"].startswith("invalid JSON")
    assert len(documents) == 6  # the five good files' documents and the good JSONL line


def test_utf16_with_bom_is_read(tmp_path):
    (tmp_path / "u.txt").write_bytes("Ünïcode text in UTF-16.".encode("utf-16"))
    documents, _ = read_documents([str(tmp_path)], ["txt"])
    assert documents[0].text == "Ünïcode text in UTF-16."


def test_nothing_readable_is_a_user_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match=r"empty: folder has no .*files \(file_type=txt,md\)"):
        read_documents([str(empty)], ["txt", "md"])
    with pytest.raises(UserError, match="missing: no such file or directory"):
        read_documents([str(tmp_path / "missing")], ALL)
    (empty / "x.pdf").write_bytes(b"garbage")
    with pytest.raises(UserError, match=r"no readable document in .*x\.pdf: cannot read as PDF"):
        read_documents([str(empty)], ALL)
    with pytest.raises(UserError, match=r"file type '.pdf' is not among file_type \(txt\)"):
        read_documents([str(empty / "x.pdf")], ["txt"])


def test_cleaning():
    assert clean_text("ﬁne  words\r\nacross lines\x0c\n\n\nnext para-\ngraph") == "fine words across lines\n\nnext paragraph"
    markdown = "## Title\n<!-- note -->\n```\ncode\n```\n* one *two*\n1. first\nsnake_case_name and 2*3*4"
    assert clean_text(markdown, markdown=True) == "Title\n\ncode\n\none two\n\n1. first snake_case_name and 2*3*4"


def test_sentences_respect_abbreviations_initials_and_cjk():
    text = "Dr. Moriquet met J. R. Smith at 5 p.m. Then he left! 北京是首都。上海很大。Done? Yes."
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "Dr. Moriquet met J. R. Smith at 5 p.m.", "Then he left!", "北京是首都。", "上海很大。", "Done?", "Yes."
    ]


def count_tokens_with(tokenizer):
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def test_chunks_hold_whole_sentences_within_the_token_limit():
    count = count_tokens_with(build_tiny_tokenizer())
    sentences = [f"Sentence number {i} says that the lighthouse engineer is Vashti Quennet." for i in range(12)]
    document = Document("doc.txt", " ".join(sentences[:6]) + "\n\n" + " ".join(sentences[6:]))
    chunks = chunk_document(document, count, size=120, overlap=0)
    assert len(chunks) > 2
    assert all(c.n_tokens == count(c.text) <= 120 for c in chunks)
    assert all(c.text == document.text[c.start:c.end] for c in chunks)
    assert [c.index for c in chunks] == list(range(len(chunks))) and {c.document for c in chunks} == {"doc.txt"}
    assert all(c.text.startswith("Sentence") and c.text.endswith(".") for c in chunks)
    # No overlap: every sentence is in exactly one chunk.
    assert sum(c.text.count("Sentence number") for c in chunks) == 12
    assert chunks[0].id == "doc.txt#0"


def test_overlap_repeats_the_last_sentences_of_the_previous_chunk():
    count = count_tokens_with(build_tiny_tokenizer())
    document = Document("doc.txt", " ".join(f"Fact {i} is about the lighthouse." for i in range(20)))
    chunks = chunk_document(document, count, size=80, overlap=30)
    for before, after in zip(chunks, chunks[1:]):
        assert before.start < after.start < before.end  # overlaps, and moves forward
        assert count(document.text[after.start:before.end]) <= 30
    assert chunks[-1].end == len(document.text)


def test_an_overlong_sentence_is_cut_between_words_and_nothing_is_lost():
    count = count_tokens_with(build_tiny_tokenizer())
    document = Document("doc.txt", "word " * 300 + "end.")
    chunks = chunk_document(document, count, size=50)
    assert all(c.n_tokens <= 50 for c in chunks)
    assert " ".join(c.text for c in chunks).split() == document.text.split()
    assert isinstance(chunks[0], Chunk)
