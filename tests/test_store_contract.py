"""One contract, two runtime stores: the same assertions against SQLite (always) and PostgreSQL.

PostgreSQL is a throwaway server started for the run (tests/conftest.py `pg_dsn`), or the database
MIYUN_TEST_PG_DSN names, e.g. postgresql://miyun:PASSWORD@127.0.0.1:15432/miyun_runtime (what
`make run-cluster` sets up; the password is in var/cluster/secrets.env). Each PostgreSQL test works in a fresh
schema that is dropped afterwards, so a shared database is left as it was.
"""
from __future__ import annotations

import os
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from miyun.referrals import migrations
from miyun.referrals.runtime import open_runtime
from miyun.referrals.sqlite import RuntimeStore

REF = re.compile(r"^MY-2026-\d{6}$")
REFERRAL_COLUMNS = {
    "id", "ref", "idempotency_key", "kind", "created_at", "updated_at", "status", "level", "target", "dispute_type",
    "town", "village", "description", "involvement", "name", "phone", "contact_time", "sender_hash", "channel",
    "assigned_to", "anonymized", "check_code",
}
FIELDS = {
    "kind": "mediation", "level": "town", "target": "古北口镇说法评理平台", "dispute_type": "土地宅基地",
    "town": "古北口镇", "village": "河西村", "description": "宅基地边界", "involvement": "none", "name": "王",
    "phone": "13912345678", "contact_time": "工作日下午", "sender_hash": "abc123", "channel": "wx",
}


class Backend:
    """Opens stores on one database; `open()` twice is two replicas sharing it."""

    def __init__(self, kind: str, target: str) -> None:
        self.kind, self.target = kind, target

    def open(self):
        if self.kind == "sqlite":
            return open_runtime("", Path(self.target))
        return open_runtime(self.target)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        yield Backend("sqlite", str(tmp_path / "runtime.db"))
        return
    PG_DSN = request.getfixturevalue("pg_dsn")  # a throwaway server unless MIYUN_TEST_PG_DSN names one
    import urllib.parse

    import psycopg

    schema = "contract_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        admin.execute(f"create schema {schema}")
    try:
        options = urllib.parse.quote(f"-c search_path={schema}")
        yield Backend("postgres", f"{PG_DSN}{'&' if '?' in PG_DSN else '?'}options={options}")
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as admin:
            admin.execute(f"drop schema {schema} cascade")


def test_both_dialects_have_the_same_numbered_migrations():
    lite, pg = migrations.load("sqlite"), migrations.load("postgres")
    assert [(m.version, m.name) for m in lite] == [(m.version, m.name) for m in pg]
    assert lite[0].version == 1


def test_migrations_are_applied_once_and_recorded(backend):
    store = backend.open()
    wanted = [m.version for m in migrations.load("sqlite")]
    assert store.schema_versions() == wanted
    again = backend.open()  # a second replica opening the same database applies nothing twice
    assert again.schema_versions() == wanted


def test_an_existing_pre_migration_sqlite_file_is_adopted(tmp_path: Path):
    """runtime.db files created before versioned migrations keep their rows."""
    import sqlite3

    path = tmp_path / "runtime.db"
    conn = sqlite3.connect(path)
    conn.executescript(migrations.load("sqlite")[0].sql)  # what the old inline schema created
    conn.execute("insert into feedback (created_at, content_id, helpful) values ('2026-01-01', 'x', 1)")
    conn.commit()
    conn.close()
    store = RuntimeStore(path)
    assert store.schema_versions() == [m.version for m in migrations.load("sqlite")]  # adopted, then the rest ran
    assert [r["content_id"] for r in store.feedback()] == ["x"]


def test_referral_is_created_once_per_key(backend):
    store = backend.open()
    row, created = store.create_referral("key-1", FIELDS, 2026)
    assert created and REF.match(row["ref"]) and row["status"] == "received"
    assert set(row) == REFERRAL_COLUMNS
    assert row["anonymized"] == 0 and isinstance(row["id"], int)
    again, created_again = store.create_referral("key-1", {**FIELDS, "name": "别人"}, 2026)
    assert not created_again and again["ref"] == row["ref"] and again["name"] == "王"
    assert len(store.referrals()) == 1
    assert store.referral(row["ref"])["phone"] == "13912345678"
    assert store.referral("MY-2026-999999") is None
    [audit] = store.audit(row["ref"])
    assert audit["action"] == "create" and audit["actor"] == "resident" and audit["after"] == "received"


def test_reference_numbers_are_unique_across_replicas_and_threads(backend):
    replicas = [backend.open(), backend.open()]

    def make(i: int) -> str:
        row, created = replicas[i % 2].create_referral(f"k-{i}", FIELDS, 2026)
        assert created
        return row["ref"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        refs = list(pool.map(make, range(40)))
    assert len(set(refs)) == 40 and all(REF.match(r) for r in refs)
    assert sorted(r["ref"] for r in replicas[0].referrals()) == sorted(refs)


def test_concurrent_confirmations_of_one_conversation_save_one_referral(backend):
    replicas = [backend.open(), backend.open()]
    barrier = threading.Barrier(8)

    def confirm(i: int) -> tuple[str, bool]:
        barrier.wait()
        row, created = replicas[i % 2].create_referral("same-conversation", FIELDS, 2026)
        return row["ref"], created

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(confirm, range(8)))
    assert len({ref for ref, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert len(replicas[0].referrals()) == 1


def test_filters_update_audit_and_anonymize(backend):
    store = backend.open()
    a, _ = store.create_referral("a", FIELDS, 2026)
    b, _ = store.create_referral("b", {**FIELDS, "town": "溪翁庄镇", "kind": "callback"}, 2026)
    assert [r["ref"] for r in store.referrals(town="溪翁庄镇")] == [b["ref"]]
    assert [r["ref"] for r in store.referrals(kind="mediation")] == [a["ref"]]
    updated = store.update_referral(a["ref"], "staff-li", "已分派", status="assigned", assigned_to="李")
    assert updated["status"] == "assigned" and updated["assigned_to"] == "李"
    assert [r["ref"] for r in store.referrals(status="assigned")] == [a["ref"]]
    trail = store.audit(a["ref"])
    assert [t["action"] for t in trail] == ["create", "update"]
    assert trail[1]["actor"] == "staff-li" and trail[1]["note"] == "已分派"
    assert '"received"' in trail[1]["before"] and '"assigned"' in trail[1]["after"]
    with pytest.raises(KeyError):
        store.update_referral("MY-2026-999999", "x", "y", status="closed")
    assert store.anonymize_older_than("9999-12-31", "retention") == 2
    assert store.anonymize_older_than("9999-12-31", "retention") == 0
    row = store.referral(a["ref"])
    assert row["anonymized"] == 1 and row["name"] is None and row["phone"] is None and row["town"] == "古北口镇"
    assert store.audit(a["ref"])[-1]["action"] == "anonymize"


def test_status_attempts_feedback_and_unanswered(backend):
    store = backend.open()
    for at in (100.0, 200.0, 300.0):
        store.record_status_attempt("h1", at)
    store.record_status_attempt("h2", 250.0)
    assert store.count_status_attempts("h1", 150.0) == 2
    assert store.count_status_attempts("h2", 0.0) == 1
    assert store.count_status_attempts("nobody", 0.0) == 0

    f1 = store.record_feedback("hotline", True, "h1")
    f2 = store.record_feedback(None, False, None)
    assert f2 > f1
    store.add_feedback_comment(f2, "没说清楚")
    rows = store.feedback()
    assert [(r["content_id"], r["helpful"], r["comment"]) for r in rows] == [("hotline", 1, None), (None, 0, "没说清楚")]

    u1 = store.log_unanswered("狗咬人怎么办", "狗 咬 人", "h1", "art-1", 3.5)
    u2 = store.log_unanswered("？？", "", None, None, None)
    assert u2 > u1
    rows = store.unanswered()
    assert [(r["question"], r["best_id"], r["best_score"]) for r in rows] == [("狗咬人怎么办", "art-1", 3.5), ("？？", None, None)]


def test_content_versions(backend):
    store = backend.open()
    assert store.versions() == [] and store.version(1) is None
    assert store.record_version("make", "first", "c1", "content-c1.db", {"services": {"added": ["x"]}}) == 1
    assert store.record_version("李", "rollback", "c0", "content-c0.db", {}, action="rollback") == 2
    v = store.version(1)
    assert v["checksum"] == "c1" and v["changes"] == {"services": {"added": ["x"]}} and v["action"] == "publish"
    assert [(r["version"], r["action"]) for r in store.versions()] == [(1, "publish"), (2, "rollback")]


def test_dsn_chooses_the_implementation(tmp_path: Path):
    assert isinstance(open_runtime("", tmp_path / "a.db"), RuntimeStore)
    assert isinstance(open_runtime(f"sqlite:///{tmp_path}/b.db"), RuntimeStore)
    assert (tmp_path / "b.db").exists()
    with pytest.raises(ValueError):
        open_runtime("mysql://x")


# ---------------------------------------------------------------- issue 15: privacy and the status lock

def test_public_reference_has_a_random_check_code(backend):
    from miyun.referrals.rules import clean_reference, public_reference
    from miyun.referrals.store import CHECK_ALPHABET, CHECK_LETTERS

    store = backend.open()
    rows = [store.create_referral(f"c{i}", FIELDS, 2026)[0] for i in range(8)]
    codes = [r["check_code"] for r in rows]
    assert all(len(c) == 4 and c[0] in CHECK_LETTERS and set(c) <= set(CHECK_ALPHABET) for c in codes)
    assert len(set(codes)) > 1                                   # random, not derived from the sequence
    for r in rows:
        assert REF.match(r["ref"]) and public_reference(r) == f"{r['ref']}-{r['check_code']}"
        assert clean_reference(public_reference(r).lower()) == public_reference(r)
        assert store.referral(r["ref"])["check_code"] == r["check_code"]


def test_erase_one_referral_and_audited_reads(backend):
    store = backend.open()
    a, _ = store.create_referral("a", FIELDS, 2026)
    b, _ = store.create_referral("b", FIELDS, 2026)
    store.log_access("调解员甲", "view", [a["ref"]], "console")
    store.log_access("管理员", "export", [a["ref"], b["ref"]], "console csv")
    assert [(t["actor"], t["action"]) for t in store.audit(a["ref"])] == [
        ("resident", "create"), ("调解员甲", "view"), ("管理员", "export")]
    assert store.erase_referral(a["ref"], "管理员", "申请人经12348要求删除") is True
    assert store.erase_referral("MY-2026-999999", "管理员", "x") is False
    row = store.referral(a["ref"])
    assert all(row[c] is None for c in ("name", "phone", "description", "village", "contact_time", "sender_hash"))
    assert row["anonymized"] == 1 and row["town"] == "古北口镇" and row["dispute_type"] == "土地宅基地"
    assert store.audit(a["ref"])[-1]["action"] == "delete" and store.audit(a["ref"])[-1]["note"] == "申请人经12348要求删除"
    assert store.referral(b["ref"])["phone"] == "13912345678"


def test_failed_status_checks_lock_a_reference_whoever_sends_them(backend):
    store = backend.open()
    ref = "MY-2026-000042"
    results = [store.record_status_failure(ref, 1000.0 + i, 24 * 3600, 10) for i in range(12)]
    assert results == [False] * 9 + [True] * 3 and store.status_locked(ref)
    assert not store.status_locked("MY-2026-000043")
    assert not store.record_status_failure("MY-2026-000044", 1000.0, 24 * 3600, 10)
    # failures older than the window do not count
    assert [store.record_status_failure("MY-2026-000045", t, 100, 3) for t in (0.0, 1.0, 500.0, 501.0)] == [False] * 4
    locks = store.status_locks()
    assert [(l["ref"], l["failures"]) for l in locks] == [(ref, 10)]
    assert store.unlock_status(ref, "管理员", "已电话核实") is True and not store.status_locked(ref)
    assert store.unlock_status(ref, "管理员", "again") is False
    assert store.audit(ref)[-1]["action"] == "unlock" and store.audit(ref)[-1]["actor"] == "管理员"
    assert store.record_status_failure(ref, 2000.0, 24 * 3600, 10) is False   # the count starts again


def test_expire_keeps_what_is_younger_than_the_cutoff(backend):
    store = backend.open()
    store.log_unanswered("我家狗咬了邻居王某", "n", "h", None, None)
    fid = store.record_feedback("hotline", False, "h1")
    store.add_feedback_comment(fid, "我叫张三电话13900001111")
    store.record_status_attempt("h1", 10.0)
    store.record_status_attempt("h1", 5000.0)
    store.record_status_failure("MY-2026-000001", 10.0, 100, 10)
    assert store.expire("2000-01-01T00:00:00+08:00", 0.0) == {
        "unanswered": 0, "feedback_comments": 0, "status_attempts": 0, "status_failures": 0}
    assert store.expire("9999-12-31", 1000.0) == {
        "unanswered": 1, "feedback_comments": 1, "status_attempts": 1, "status_failures": 1}
    assert store.unanswered() == [] and store.count_status_attempts("h1", 0.0) == 1
    assert [(r["comment"], r["sender_hash"], r["helpful"]) for r in store.feedback()] == [(None, None, 0)]
