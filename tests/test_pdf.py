"""PDF summaries: real PDFs written here (valid objects, xref and all), read by pypdf."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tinyagent_cli.errors import ToolError
from tinyagent_cli.tools.pdf import (
    extract_pdf_text,
    extractive_summary,
    split_sentences,
    summarize_pdf_file,
)


def _pdf_string(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def write_pdf(path: Path, pages: list[str]) -> Path:
    """A minimal valid PDF: one Helvetica text page per entry ("" makes an image-like blank page)."""
    objects: list[str] = []
    page_ids = []
    font_id = 3
    for i, text in enumerate(pages):
        page_ids.append(4 + 2 * i)
    objects.append("<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{' '.join(f'{p} 0 R' for p in page_ids)}] /Count {len(pages)} >>")
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i, text in enumerate(pages):
        lines = textwrap.wrap(text, 90)
        ops = ["BT", "/F1 10 Tf", "14 TL", "40 760 Td"] + [f"{_pdf_string(line)} Tj T*" for line in lines] + ["ET"]
        stream = "\n".join(ops) if lines else ""
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {5 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>"
        )
        objects.append(f"<< /Length {len(stream.encode('latin-1'))} >>\nstream\n{stream}\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))
    return path


REPORT = [
    (
        "Quarterly report on the solar farm. The solar farm produced 12 gigawatt hours of energy this quarter. "
        "Lunch was served in the canteen on Tuesday. "
        "Panel efficiency at the solar farm rose to 21 percent after the cleaning schedule changed. "
        "The parking lot was repainted."
    ),
    (
        "Battery storage at the solar farm now holds four hours of peak energy output. "
        "Someone left an umbrella in room 4. "
        "Next quarter the solar farm will add 200 panels and a second battery storage unit. "
        "The coffee machine was fixed. Energy sales from the solar farm covered all operating costs."
    ),
]


def test_summary_keeps_the_central_sentences_in_document_order(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "report.pdf", REPORT)
    summary = summarize_pdf_file(pdf, max_sentences=3)
    sentences = split_sentences(summary)
    assert len(sentences) == 3
    assert all("solar farm" in s for s in sentences), summary
    for filler in ("Lunch", "umbrella", "coffee", "parking"):
        assert filler not in summary
    full = " ".join(split_sentences(extract_pdf_text(pdf)))
    positions = [full.index(s) for s in sentences]
    assert positions == sorted(positions)


def test_text_from_every_page_is_extracted(tmp_path: Path) -> None:
    text = extract_pdf_text(write_pdf(tmp_path / "two.pdf", REPORT))
    assert "Quarterly report" in text and "operating costs" in text


def test_a_short_document_is_its_own_summary() -> None:
    assert extractive_summary("Only one sentence here.", 5) == "Only one sentence here."


def test_hyphenation_and_line_breaks_are_undone() -> None:
    assert split_sentences("The effi-\nciency rose.\nIt is good.") == ["The efficiency rose.", "It is good."]


def test_empty_text_is_an_error_not_an_empty_summary() -> None:
    with pytest.raises(ToolError):
        extractive_summary("   \n ", 3)


def test_scanned_pdf_without_text(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="no text layer"):
        summarize_pdf_file(write_pdf(tmp_path / "scan.pdf", ["", ""]))


def test_password_protected_pdf(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    plain = write_pdf(tmp_path / "plain.pdf", REPORT)
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    locked = tmp_path / "locked.pdf"
    writer.write(locked)
    with pytest.raises(ToolError, match="password-protected"):
        summarize_pdf_file(locked)


def test_pdf_encrypted_only_for_permissions_is_read(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(write_pdf(tmp_path / "plain.pdf", REPORT)))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    permissions = tmp_path / "permissions.pdf"
    writer.write(permissions)
    assert "solar farm" in summarize_pdf_file(permissions)


def test_corrupt_pdf(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 9 0 R\nthis is not a pdf body\n")
    with pytest.raises(ToolError, match="broken.pdf"):
        summarize_pdf_file(broken)


def test_truncated_pdf(tmp_path: Path) -> None:
    whole = write_pdf(tmp_path / "whole.pdf", REPORT).read_bytes()
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(whole[: len(whole) // 3])
    with pytest.raises(ToolError):
        summarize_pdf_file(cut)


def test_not_a_pdf(tmp_path: Path) -> None:
    text = tmp_path / "notes.pdf"
    text.write_text("just some text", encoding="utf-8")
    with pytest.raises(ToolError, match="not a PDF"):
        summarize_pdf_file(text)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="no file at"):
        summarize_pdf_file(tmp_path / "nope.pdf")
    with pytest.raises(ToolError, match="folder"):
        summarize_pdf_file(tmp_path)
