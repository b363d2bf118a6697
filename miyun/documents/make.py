"""Generate the files of one filled document: DOCX always, PDF when a CJK font exists, and the text."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from miyun.documents.docx_out import docx_bytes
from miyun.documents.fill import Filled
from miyun.documents.pdf_out import FontMissing, pdf_bytes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Files:
    files: dict[str, bytes]

    @property
    def has_pdf(self) -> bool:
        return "pdf" in self.files


def produce(filled: Filled, font: Path | None) -> Files:
    files = {"docx": docx_bytes(filled), "txt": filled.text().encode("utf-8")}
    try:
        files["pdf"] = pdf_bytes(filled, font)
    except FontMissing as exc:
        log.warning("document_pdf_unavailable reason=%s", exc)
    return Files(files)
