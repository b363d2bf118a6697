"""Each document filled from fixed answers: DOCX and PDF text, the embedded CJK font, a non-blank page;
the download store's links (session binding, guessed and expired tokens) and the counts."""
from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from docx import Document
from PIL import Image, ImageStat

from miyun.documents import counts, downloads, fill, make, pdf_out, templates
from miyun.knowledge import content

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = templates.templates(content.load(ROOT / "content").settings["documents"])
TODAY = dt.date(2026, 12, 1)


def answers(template: templates.Template) -> dict[str, str]:
    """Fixed answers, each unique, so every field can be found in the output."""
    return {f.key: f"{f.label}之答{i}" for i, f in enumerate(template.fields, 1)}


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} missing: `make test` installs poppler-utils (scripts/install_document_tools.sh)"
    return path


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_the_five_documents_are_there():
    titles = {t.title for t in TEMPLATES.values()}
    assert {"行政复议申请书", "政府信息公开申请表", "人民调解申请书", "劳动人事争议仲裁申请书"} <= titles
    assert {"民事起诉状（民间借贷纠纷）", "民事起诉状（劳务合同纠纷）"} <= titles
    for t in TEMPLATES.values():
        assert t.legal_basis and t.source and t.verified, t.id


@pytest.mark.parametrize("kind", sorted(TEMPLATES))
def test_docx_holds_title_and_every_field(kind):
    t = TEMPLATES[kind]
    filled = fill.fill(t, answers(t), TODAY)
    doc = Document(io.BytesIO(make.produce(filled, None).files["docx"]))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert t.title in text
    for f in t.fields:
        assert f.label in text and answers(t)[f.key] in text, f.key
    assert "签名" in text and "2026年12月1日" in text
    section = doc.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)


@pytest.mark.parametrize("kind", sorted(TEMPLATES))
def test_pdf_text_font_and_page(kind, tmp_path):
    t = TEMPLATES[kind]
    font = pdf_out.find_font()
    assert font, "no CJK font: `make test` installs fonts-wqy-microhei"
    files = make.produce(fill.fill(t, answers(t), TODAY), font)
    assert files.has_pdf
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(files.files["pdf"])

    text = squash(subprocess.run([tool("pdftotext"), str(pdf), "-"], capture_output=True, text=True, check=True).stdout)
    assert squash(t.title) in text
    for f in t.fields:
        assert squash(f.label) in text and squash(answers(t)[f.key]) in text, f.key
    assert "签名" in text and "2026年12月1日" in text

    fonts = subprocess.run([tool("pdffonts"), str(pdf)], capture_output=True, text=True, check=True).stdout
    rows = [line for line in fonts.splitlines()[2:] if line.strip()]
    assert rows and all(re.search(r"WenQuanYi|CJK|Ming|Hei|Song", r) for r in rows), fonts
    assert all(r.split()[-5] == "yes" for r in rows), f"font not embedded:\n{fonts}"

    subprocess.run([tool("pdftoppm"), "-r", "40", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")], check=True)
    page = Image.open(next(tmp_path.glob("page*.png"))).convert("L")
    assert page.size[0] < page.size[1], "A4 portrait"
    stat = ImageStat.Stat(page)
    assert stat.stddev[0] > 10, "the page is blank"
    assert min(page.getdata()) < 100, "no dark ink on the page"


def test_unknown_answers_leave_a_clear_blank():
    t = TEMPLATES["reconsideration"]
    filled = fill.fill(t, {**answers(t), "respondent": "不知道", "reviewer": "不清楚。", "decision": ""}, TODAY)
    text = filled.text()
    assert "被申请人：" + templates.BLANK in text
    assert "此致\n" + templates.BLANK in text
    assert {f.key for f in filled.blanks()} == {"respondent", "reviewer", "decision"}
    assert fill.is_unknown("我也不知道") and not fill.is_unknown("不知道他叫张三还是张山")


def test_no_cjk_font_means_docx_and_text_only(tmp_path):
    t = TEMPLATES["labour-arbitration"]
    files = make.produce(fill.fill(t, answers(t), TODAY), None)
    assert not files.has_pdf and set(files.files) == {"docx", "txt"}
    bogus = tmp_path / "none.ttf"
    bogus.write_bytes(b"not a font")
    with pytest.raises(pdf_out.FontMissing):
        pdf_out.pdf_bytes(fill.fill(t, {}, TODAY), bogus)


def test_font_setting_wins_and_missing_file_falls_back(tmp_path):
    font = pdf_out.find_font()
    copy = tmp_path / "mine.ttc"
    shutil.copy(font, copy)
    assert pdf_out.find_font(str(copy)) == copy
    assert pdf_out.find_font(str(tmp_path / "missing.ttf")) == font


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_download_links_are_bound_random_and_expire(tmp_path):
    clock = Clock()
    store = downloads.DownloadStore(tmp_path / "documents", ttl_s=1800, clock=clock)
    token = store.put(kind="reconsideration", title="行政复议申请书", sender_id="web:session-aaaaaaaaaaaaaaaa",
                      files={"pdf": b"%PDF-1.4 secret", "docx": b"PK secret"})
    assert len(token) >= 32
    assert store.open(token, "pdf", "web:session-aaaaaaaaaaaaaaaa").path.read_bytes() == b"%PDF-1.4 secret"
    assert store.open(token, "pdf", "web:another-session-bbbbbbbb") is None       # another browser
    assert store.open(token, "pdf", None) is None
    assert store.open(token[:-1] + ("A" if token[-1] != "A" else "B"), "pdf", "web:session-aaaaaaaaaaaaaaaa") is None
    assert store.open(token, "exe", "web:session-aaaaaaaaaaaaaaaa") is None
    assert store.open("../../etc/passwd", "pdf", "web:session-aaaaaaaaaaaaaaaa") is None
    # nothing on disk names the token or the resident
    names = " ".join(str(p) for p in (tmp_path / "documents").rglob("*"))
    assert token not in names and "session-aaaa" not in (tmp_path / "documents").joinpath(
        downloads._digest(token), "meta.json").read_text()

    clock.now += 1801
    assert store.open(token, "pdf", "web:session-aaaaaaaaaaaaaaaa") is None
    assert list((tmp_path / "documents").iterdir()) == [], "document content left on disk after expiry"


def test_purge_removes_every_expired_document_even_unvisited(tmp_path):
    clock = Clock()
    store = downloads.DownloadStore(tmp_path / "d", ttl_s=60, clock=clock)
    for i in range(3):
        store.put(kind="mediation", title="人民调解申请书", sender_id=f"tg:{i}", files={"txt": "内容".encode()})
    clock.now += 30
    keep = store.put(kind="mediation", title="人民调解申请书", sender_id="tg:9", files={"txt": b"x"})
    clock.now += 31
    assert store.purge() == 3
    assert store.read(keep, "txt", "tg:9") == b"x" and store.read(keep, "txt", "tg:8") is None
    clock.now += 60
    store.purge()
    assert not any((tmp_path / "d").rglob("*"))


def test_counts_per_kind_and_week_only(tmp_path):
    c = counts.DocumentCounts(tmp_path / "runtime.db")
    c.record("reconsideration", TODAY)
    c.record("reconsideration", TODAY)
    c.record("labour-arbitration", TODAY - dt.timedelta(days=7))
    assert c.weekly(8, TODAY) == [("2026-W49", "reconsideration", 2), ("2026-W48", "labour-arbitration", 1)]
    import sqlite3

    cols = [r[1] for r in sqlite3.connect(tmp_path / "runtime.db").execute("pragma table_info(document_counts)")]
    assert cols == ["kind", "week", "n"]


def test_content_validate_names_file_entry_and_field(tmp_path):
    shutil.copytree(ROOT / "content", tmp_path / "content")
    path = tmp_path / "content" / "documents.yml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("        explain: 被申请人就是作出罚款（或其他）决定的那个单位，写决定书上盖章的单位名称。\n", "", 1)
    text = text.replace('closing: "此致\\n{agency}"', 'closing: "此致\\n{nobody}"', 1)
    path.write_text(text, encoding="utf-8")
    problems = [str(p) for p in content.load(tmp_path / "content").problems]
    assert "documents.yml › reconsideration › fields[5].explain: 缺少内容 / missing" in problems
    assert any(p.startswith("documents.yml › disclosure › closing:") for p in problems)
