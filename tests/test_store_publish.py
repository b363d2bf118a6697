"""Building, publishing, diffing and rolling back the content store; live reload in a reader."""
import os
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import yaml

from miyun.knowledge import publish
from miyun.knowledge.store import ContentStore, ContentUnavailable
from miyun.referrals.sqlite import RuntimeStore


def _edit_first_article(content_dir: Path, **changes) -> str:
    path = sorted((content_dir / "articles").glob("*.yml"))[0]
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["articles"][0].update(changes)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return data["articles"][0]["id"]


def test_publish_builds_a_searchable_store(published):
    store = ContentStore(published.content_db)
    assert int(store.meta()["articles"]) >= 100
    assert store.service_for_intent("ask_hotline")["title"]
    assert store.station_for_town("古北口镇")["name"].startswith("古北口镇")
    rows = store.search('"工资" OR "拖欠"', (6.0, 4.0, 1.0), 5)
    assert rows and rows[0]["score"] > 0
    assert (published.content_db.stat().st_mode & 0o200)  # a normal file, not a half-written temp


def test_publish_is_a_noop_without_changes(published):
    again = publish.publish(published, "pytest", "again")
    assert not again.changed
    assert len(RuntimeStore(published.runtime_db).versions()) == 1


def test_publish_records_who_what_and_checksum(published):
    ident = _edit_first_article(published.content_dir, title="修改后的标题")
    result = publish.publish(published, "王老师", "改标题")
    assert result.changed and result.version == 2
    v = RuntimeStore(published.runtime_db).version(2)
    assert (v["published_by"], v["note"], v["checksum"]) == ("王老师", "改标题", result.checksum)
    assert v["changes"]["articles"]["changed"] == {ident: ["title"]}
    assert ContentStore(published.content_db).article(ident)["title"] == "修改后的标题"


def test_diff_shows_changes_against_published(published):
    ident = _edit_first_article(published.content_dir, answer="新" * 200)
    changes = publish.source_diff(published)
    assert changes == {"articles": {"added": [], "removed": [], "changed": {ident: ["answer"]}}}


def test_rollback_restores_the_previous_version(published):
    ident = _edit_first_article(published.content_dir, title="第二版标题")
    publish.publish(published, "a", "v2")
    store = ContentStore(published.content_db)
    assert store.article(ident)["title"] == "第二版标题"
    result = publish.rollback(published, "b")
    assert result.changed and result.version == 3
    assert store.article(ident)["title"] != "第二版标题"
    # and forward again by number
    publish.rollback(published, "b", 2)
    assert store.article(ident)["title"] == "第二版标题"


def test_rollback_errors_are_clean(isolated):
    with pytest.raises(publish.RollbackError):
        publish.rollback(isolated, "x")


def test_rollback_to_unknown_version(published):
    with pytest.raises(publish.RollbackError, match="does not exist"):
        publish.rollback(published, "x", 99)


def test_invalid_content_never_replaces_the_live_store(published):
    before = published.content_db.read_bytes()
    _edit_first_article(published.content_dir, category="不存在的分类")
    with pytest.raises(Exception):
        publish.publish(published, "x", "broken")
    assert published.content_db.read_bytes() == before


def test_reader_sees_new_version_and_never_a_partial_file(published):
    """Readers hammer the store while versions are swapped in; every read is a whole version."""
    store = ContentStore(published.content_db)
    ident = _edit_first_article(published.content_dir)
    errors, seen = [], set()
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            try:
                seen.add(store.article(ident)["title"])
                assert int(store.meta()["articles"]) >= 100
            except Exception as exc:  # any failure is a bug
                errors.append(exc)

    t = threading.Thread(target=reader)
    t.start()
    for i in range(3):
        _edit_first_article(published.content_dir, title=f"版本{i}")
        publish.publish(published, "x", f"v{i}")
    time.sleep(0.05)
    stop.set()
    t.join()
    assert errors == []
    assert store.article(ident)["title"] == "版本2"


def test_missing_store_raises_a_clear_error(tmp_path):
    with pytest.raises(ContentUnavailable):
        ContentStore(tmp_path / "nope.db").services()


def test_runtime_store_uses_wal(tmp_path):
    store = RuntimeStore(tmp_path / "runtime.db")
    store.log_unanswered("问题", "问题", "abc", None, 0.1)
    mode = sqlite3.connect(tmp_path / "runtime.db").execute("pragma journal_mode").fetchone()[0]
    assert mode == "wal"
    assert store.unanswered()[0]["question"] == "问题"


def test_stale_lists_unverified_and_old_entries(published):
    import datetime as dt

    rows = publish.stale(published, dt.date(2026, 11, 27))
    ids = {r["id"] for r in rows}
    assert "gubeikou" in ids or any(r["kind"] == "stations" for r in rows)  # stations await staff verification
    later = publish.stale(published, dt.date(2028, 1, 1))
    assert len(later) > len(rows)  # a year on, everything verified in 2026 is stale


def test_rollback_restores_the_source_files_too(published):
    path = sorted((published.content_dir / "articles").glob("*.yml"))[0]
    original = path.read_text(encoding="utf-8")
    _edit_first_article(published.content_dir, title="要撤回的标题")
    publish.publish(published, "a", "bad edit")
    extra = published.content_dir / "articles" / "zz_new.yml"
    extra.write_text(path.read_text(encoding="utf-8").replace("id: ", "id: zz-"), encoding="utf-8")
    with pytest.raises(publish.RollbackError, match="unpublished"):
        publish.rollback(published, "b")  # unpublished edits would be lost
    extra.unlink()
    publish.rollback(published, "b")
    assert path.read_text(encoding="utf-8") == original
    assert not publish.publish(published, "c", "nothing to bring back").changed


def _derived(path: Path, prefix: str = "phrasings/") -> tuple[list, list]:
    """The index rows and the blobs under `prefix` of a built database."""
    with sqlite3.connect(path) as db:
        return (db.execute("select * from article_index order by id").fetchall(),
                db.execute("select key, value from blobs where key like ? order by key", [prefix + "%"]).fetchall())


def test_a_rebuild_derives_only_the_edited_article_and_equals_a_fresh_build(published, tmp_path, monkeypatch):
    """A one-answer edit re-segments that article alone and keeps the phrasing model, yet the
    result is exactly what a build from nothing gives."""
    from miyun.knowledge import build

    path = published.content_dir / "articles" / "labour.yml"
    text = path.read_text(encoding="utf-8")
    assert text.count("按时足额发工资是单位的法定义务") == 1
    path.write_text(text.replace("按时足额发工资是单位的法定义务", "讨薪标记词。按时足额发工资是单位的法定义务"), encoding="utf-8")
    segmented: list[str] = []
    real = build.index_terms
    monkeypatch.setattr(build, "index_terms", lambda text: segmented.append(text) or real(text))
    monkeypatch.setattr(build, "_RECENT", [])
    build.build(published.content_dir, tmp_path / "reused.db", published.dictionary_dir, reuse=published.content_db)
    assert len(segmented) == 3 and "讨薪标记词" in segmented[2]  # title, questions + tags, body of one article

    monkeypatch.setattr(build, "_RECENT", [])
    segmented.clear()
    build.build(published.content_dir, tmp_path / "fresh.db", published.dictionary_dir)
    assert len(segmented) == 3 * len(ContentStore(published.content_db).articles_by_id(
        [r[0] for r in _derived(tmp_path / "fresh.db")[0]]))
    assert _derived(tmp_path / "reused.db") == _derived(tmp_path / "fresh.db")
    # The classifier is the published one, not refitted (a fit is not bit-for-bit repeatable).
    assert _derived(tmp_path / "reused.db", "classifier/")[1] == _derived(published.content_db, "classifier/")[1]


def test_a_changed_dictionary_is_a_new_derivation(tmp_path):
    """Segmentation depends on the project dictionary, so a changed word list derives all again."""
    from miyun import settings
    from miyun.knowledge import build

    words = tmp_path / "dictionary"
    shutil.copytree(settings.load().dictionary_dir, words)
    before = build.derivation_key(words)
    assert build.derivation_key(words) == before
    (words / "extra.txt").write_text("讨薪标记词 10 n\n", encoding="utf-8")
    assert build.derivation_key(words) != before
