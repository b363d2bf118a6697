"""The filled document as DOCX (python-docx): A4, title, the fields, the signature line and the date."""
from __future__ import annotations

import io

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from miyun.documents.fill import Filled

EAST_ASIAN_FONT = "宋体"  # Word substitutes the reader's own CJK font when this one is missing


def _run_font(run, size: float, bold: bool = False) -> None:
    run.font.size = Pt(size)
    run.bold = bold
    run.font.name = EAST_ASIAN_FONT
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), EAST_ASIAN_FONT)


def docx_bytes(filled: Filled) -> bytes:
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Mm(25))
    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run_font(title.add_run(filled.template.title), 18, bold=True)
    for f, value in filled.rows():
        p = doc.add_paragraph()
        _run_font(p.add_run(f"{f.label}："), 12, bold=True)
        if f.long:
            p = doc.add_paragraph()
        _run_font(p.add_run(value), 12)
    if filled.template.closing:
        for line in filled.closing().split("\n"):
            _run_font(doc.add_paragraph().add_run(line), 12)
    doc.add_paragraph()
    for line in (filled.signature(), f"日期：{filled.date_text()}"):
        p = doc.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        _run_font(p.add_run(line), 12)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
