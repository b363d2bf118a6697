"""The filled document as a printable A4 PDF (fpdf2) with an embedded CJK font.

fpdf2 needs a TrueType/OpenType file; a .ttc collection is read with collection_font_number=0.
No CJK font on the machine is not an error: the caller offers DOCX and the text instead.
"""
from __future__ import annotations

from pathlib import Path

from miyun.documents.fill import Filled

# Debian packages, first the one `make test` installs (fonts-wqy-microhei).
FALLBACK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
)
MARGIN_MM = 20
LINE_MM = 8


class FontMissing(RuntimeError):
    """No usable CJK font: PDF output is unavailable on this machine."""


def find_font(configured: str = "") -> Path | None:
    """MIYUN_DOCUMENT_FONT when it names an existing file, else the first Debian CJK font found."""
    for candidate in ([configured] if configured else []) + list(FALLBACK_FONTS):
        path = Path(candidate).expanduser()
        if path.is_file():
            return path
    return None


def pdf_bytes(filled: Filled, font: Path | None) -> bytes:
    """Raises FontMissing when `font` is None or cannot be loaded."""
    from fpdf import FPDF

    if font is None:
        raise FontMissing("no CJK font found (set MIYUN_DOCUMENT_FONT or install fonts-wqy-microhei)")
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_margins(MARGIN_MM, MARGIN_MM, MARGIN_MM)
    pdf.set_auto_page_break(True, margin=MARGIN_MM)
    try:
        options = {"collection_font_number": 0} if font.suffix.lower() == ".ttc" else {}
        pdf.add_font("cjk", fname=str(font), **options)
    except Exception as exc:  # fpdf2/fontTools raise many kinds on an unreadable font
        raise FontMissing(f"cannot load font {font}: {exc}") from exc
    pdf.set_title(filled.template.title)
    pdf.add_page()
    pdf.set_font("cjk", size=18)
    pdf.cell(0, 14, filled.template.title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("cjk", size=12)
    for f, value in filled.rows():
        if f.long:
            pdf.multi_cell(0, LINE_MM, f"{f.label}：", new_x="LMARGIN", new_y="NEXT")
            pdf.multi_cell(0, LINE_MM, value, new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.multi_cell(0, LINE_MM, f"{f.label}：{value}", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
    if filled.template.closing:
        pdf.ln(4)
        pdf.multi_cell(0, LINE_MM, filled.closing(), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)
    pdf.cell(0, LINE_MM, filled.signature(), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, LINE_MM, f"日期：{filled.date_text()}", align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
