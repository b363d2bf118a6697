#!/usr/bin/env bash
# Debian packages for the fill-in documents: a CJK font for the PDFs (fonts-wqy-microhei, a
# TrueType collection fpdf2 can embed) and poppler-utils (pdftotext/pdffonts/pdftoppm) for the tests.
# Idempotent: installs only what is missing. `make run` does not need them (no font = DOCX and text only).
set -euo pipefail

missing=()
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)
command -v pdftotext >/dev/null 2>&1 && command -v pdffonts >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1 \
    || missing+=(poppler-utils)
if [ ${#missing[@]} -eq 0 ]; then
    echo "document tools already installed (CJK font, poppler-utils)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
