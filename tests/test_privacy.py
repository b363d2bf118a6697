"""Issue 15, personal data: conversation redaction (pure part), the status lock, check-coded references,
CSV formulas, the log salt, audited reads, deletion on request and the retention run."""
from __future__ import annotations

import csv
import datetime as dt
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from actions import context
from actions.referral import ActionSubmitReferral
from actions.status import LOCKED, NO_MATCH, ActionCheckStatus
from miyun.privacy import redact
from miyun.referrals import cli as referrals_cli
from miyun.referrals import rules
from miyun.referrals.sqlite import RuntimeStore
from tests.helpers import run, texts, tracker

ROOT = Path(__file__).resolve().parent.parent
PHONE = "13912345678"
FILLED = {"consent": True, "dispute_type": "土地宅基地", "town": "古北口镇", "village": "河西村", "description": "宅基地边界争议",
          "involvement": "none", "name": "王", "phone": PHONE, "contact_time": "工作日下午", "confirm": "yes",
          "referral_key": "k1", "referral_kind": "mediation"}


# ------------------------------------------------------------------------- redaction (pure)

def _user(text, intent="inform"):
    return {"event": "user", "text": text, "parse_data": {"text": text, "intent": {"name": intent, "confidence": 1.0},
                                                          "entities": [{"entity": "town", "value": "古北口镇"}]}}


def _action(name):
    return {"event": "action", "name": name}


def _slot(name, value):
    return {"event": "slot", "name": name, "value": value}


def _bot(text):
    return {"event": "bot", "text": text}


def _referral_events(end="action_submit_referral"):
    return [
        _user("你好", "greet"), _action("utter_greet"), _bot("您好"), _action("action_listen"),
        _user("我和邻居在古北口因为宅基地吵架了", "ask_mediation"), _action("action_start_referral"),
        _slot("description", "我和邻居在古北口因为宅基地吵架了"), _action("mediation_form"), _action("action_listen"),
        _user("姓王"), _action("action_extract_slots"), _slot("name", "姓王"), _action("mediation_form"), _slot("name", "王"),
        _action("action_listen"), _user(PHONE), _slot("phone", PHONE), _action("action_ask_confirm"),
        _bot(f"请核对：称呼：王 电话：139****5678 经过：我和邻居在古北口因为宅基地吵架了"), _action("action_listen"),
        _user("确认提交", "affirm"), _action(end), _bot("已收到，编号：MY-2026-000001-K7QX"),
        _slot("phone", None), _slot("name", None), _action("action_listen"),
    ]


def test_redaction_blanks_a_finished_referral_and_keeps_the_rest():
    events = _referral_events()
    changes = redact.redact_events(events)
    after = [changes.get(i, e) for i, e in enumerate(events)]
    for needle in (PHONE, "5678", "宅基地吵架", "姓王"):
        assert redact.holds(after, needle) == [], needle
    assert after[0]["text"] == "你好"                                     # before the flow: untouched
    assert [e["parse_data"]["intent"]["name"] for e in after if e["event"] == "user"] == [
        "greet", "ask_mediation", "inform", "inform", "affirm"]            # the dashboard still counts intents
    assert "MY-2026-000001-K7QX" in after[-4]["text"]                      # the reference is not personal
    assert redact.redact_events(after) == {}                               # idempotent
    assert redact.closes_a_flow(events) and not redact.closes_a_flow(events[:-6])


def test_an_unfinished_form_is_left_alone_until_it_ends():
    events = _referral_events()[:-6]
    assert redact.redact_events(events) == {}
    cancelled = redact.redact_events(_referral_events(end="action_referral_cancelled"))
    assert cancelled and all(PHONE not in str(e) for e in cancelled.values())


def test_a_finished_legal_aid_self_check_is_blanked_too():
    events = [_user("我能申请法律援助吗", "ask_legal_aid"), _action("legal_aid_form"), _action("action_listen"),
              _user("家里穷，低保户"), _slot("aid_hardship", "家里穷，低保户"), _action("legal_aid_form"),
              _action("action_legal_aid_result"), _bot("很可能符合")]
    after = [redact.redact_events(events).get(i, e) for i, e in enumerate(events)]
    assert redact.holds(after, "低保户") == [] and redact.holds(after, "很可能符合") == [7]


def test_every_personal_form_slot_is_listed_once():
    from actions.referral import MEDIATION_SLOTS

    assert set(MEDIATION_SLOTS) <= redact.REFERRAL_SLOTS
    assert {"consent", "referral_key", "referral_kind"}.isdisjoint(redact.REFERRAL_SLOTS)


# ------------------------------------------------------------------------- status lock

def _submitted(published, key="k-lock"):
    run(ActionSubmitReferral(), tracker("确认提交", "affirm", slots={**FILLED, "referral_key": key}, sender="wx:owner"))
    return RuntimeStore(published.runtime_db).referrals()[-1]


def _check(ref, tail, sender):
    dispatcher, _ = run(ActionCheckStatus(), tracker(tail, "inform", slots={"status_ref": ref, "status_tail": tail}, sender=sender))
    return texts(dispatcher)[0]


def test_twelve_wrong_tails_from_twelve_fresh_senders_lock_the_reference(published, capsys):
    row = _submitted(published)
    public = rules.public_reference(row)
    replies = [_check(public, f"{i:04d}", f"web:fresh-session-{i}") for i in range(12)]
    assert replies[:9] == [NO_MATCH] * 9 and replies[9:] == [LOCKED] * 3 and "请拨打12348" in LOCKED
    assert _check(public, "5678", "web:the-resident") == LOCKED          # even the right tail: only 12348
    # guessing check codes does not dodge the lock: it counts per staff sequence
    assert _check(f"{row['ref']}-AAAA", "5678", "web:other") == LOCKED
    store = RuntimeStore(published.runtime_db)
    assert [l["ref"] for l in store.status_locks()] == [row["ref"]]
    assert referrals_cli.main(["locks"]) == 0 and row["ref"] in capsys.readouterr().out
    assert referrals_cli.main(["unlock", public, "--by", "管理员", "--note", "已电话核实申请人"]) == 0
    assert store.audit(row["ref"])[-1]["action"] == "unlock" and store.audit(row["ref"])[-1]["actor"] == "管理员"
    assert "已受理" in _check(public, "5678", "web:the-resident")
    assert referrals_cli.main(["unlock", public, "--by", "x", "--note", "y"]) == 1   # no longer locked


def test_a_new_reference_needs_its_check_code_an_old_one_resolves_without(published):
    row = _submitted(published)
    assert re.fullmatch(r"MY-\d{4}-\d{6}-[A-Z][A-Z0-9]{3}", rules.public_reference(row))
    assert _check(row["ref"], "5678", "s1") == NO_MATCH                    # the bare sequence is not enough
    assert _check(f"{row['ref']}-{'C' if row['check_code'][0] != 'C' else 'D'}{row['check_code'][1:]}", "5678", "s2") == NO_MATCH
    assert "已受理" in _check(rules.public_reference(row).lower().replace("-", ""), "5678", "s3")
    store = RuntimeStore(published.runtime_db)
    with store.transaction() as conn:                                      # a referral made before check codes
        conn.execute("update referrals set check_code = null where ref = ?", (row["ref"],))
    assert "已受理" in _check(row["ref"], "5678", "s4")
    assert rules.clean_reference("MY-2026-000123 5678") == "MY-2026-000123"   # a tail is never read as the code
    assert rules.clean_reference("my-2026-000123-k7qx") == "MY-2026-000123-K7QX"


def test_staff_tools_resolve_old_and_new_references(published, capsys):
    row = _submitted(published)
    for given in (row["ref"], rules.public_reference(row)):
        assert referrals_cli.main(["show", given, "--by", "调解员甲"]) == 0
        assert PHONE in capsys.readouterr().out


# ------------------------------------------------------------------------- CSV formulas

FORMULA = '=HYPERLINK("http://x","点我")'


@pytest.mark.parametrize("cell", [FORMULA, "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_formula_cells_are_exported_as_text(cell):
    row = {"ref": "MY-2026-000001", "description": cell, "name": "=cmd|' /C calc'!A0"}
    out = dict(zip(rules.EXPORT_COLUMNS, rules.export_row(row, with_personal_data=True)))
    assert out["description"] == "'" + cell and out["name"].startswith("'=")
    assert dict(zip(rules.EXPORT_COLUMNS, rules.export_row({"description": "邻居=坏人"}, True)))["description"] == "邻居=坏人"


def test_cli_export_neutralises_a_formula_and_audits_personal_data(published, tmp_path):
    fields = {**{k: v for k, v in FILLED.items() if k not in ("consent", "confirm", "referral_key", "referral_kind")},
              "kind": "mediation", "description": FORMULA}
    row, _ = RuntimeStore(published.runtime_db).create_referral("csv", fields, 2026)
    target = tmp_path / "r.csv"
    assert referrals_cli.main(["export", "--csv", str(target), "--with-personal-data", "--by", "管理员"]) == 0
    cells = list(csv.DictReader(target.open(encoding="utf-8-sig")))[0]
    assert cells["description"] == "'" + FORMULA
    trail = RuntimeStore(published.runtime_db).audit(row["ref"])
    assert (trail[-1]["actor"], trail[-1]["action"]) == ("管理员", "export")


# ------------------------------------------------------------------------- audited reads, masking, deletion

def test_cli_show_is_audited_and_list_masks_phones(published, capsys):
    row = _submitted(published)
    assert referrals_cli.main(["list"]) == 0
    listed = capsys.readouterr().out
    assert PHONE not in listed and "139****5678" in listed
    assert referrals_cli.main(["show", row["ref"]]) == 0
    trail = RuntimeStore(published.runtime_db).audit(row["ref"])
    assert trail[-1]["action"] == "view" and trail[-1]["actor"].startswith("cli:") and trail[-1]["at"]


def test_cli_delete_one_referral_on_request(published, capsys):
    row = _submitted(published)
    other = _submitted(published, key="k-other")
    assert referrals_cli.main(["delete", rules.public_reference(row), "--by", "管理员", "--reason", "经12348要求删除"]) == 0
    store = RuntimeStore(published.runtime_db)
    assert store.referral(row["ref"])["phone"] is None and store.referral(other["ref"])["phone"] == PHONE
    assert store.audit(row["ref"])[-1]["action"] == "delete"
    assert referrals_cli.main(["delete", "MY-2026-999999", "--by", "x", "--reason", "y"]) == 1


# ------------------------------------------------------------------------- salt

def test_production_refuses_without_a_real_salt(monkeypatch, tmp_path):
    from miyun import settings

    monkeypatch.setenv("MIYUN_ENV", "production")
    monkeypatch.setenv("MIYUN_VAR_DIR", str(tmp_path))
    for value in ("", "change-me"):
        monkeypatch.setenv("MIYUN_LOG_SALT", value)
        with pytest.raises(settings.InsecureSettings):
            settings.require_production_secrets()
        with pytest.raises(settings.InsecureSettings):
            settings.log_salt(tmp_path)
        context.reset()
        with pytest.raises(settings.InsecureSettings):
            context.sender_hash("wx:openid")                 # the action server never hashes with a fixed salt
    assert not (tmp_path / "secrets").exists()
    monkeypatch.setenv("MIYUN_LOG_SALT", "a-long-random-production-salt")
    settings.require_production_secrets()
    assert settings.log_salt(tmp_path) == "a-long-random-production-salt"
    context.reset()


@pytest.mark.parametrize("command", [["-m", "bot"], ["-m", "scripts.cluster"], ["-m", "scripts.run_all"]])
def test_production_starts_refuse_without_a_salt(tmp_path, command):
    env = {**os.environ, "MIYUN_ENV": "production", "MIYUN_LOG_SALT": "change-me", "MIYUN_VAR_DIR": str(tmp_path),
           "MIYUN_GATEWAY_PORT": "9", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert done.returncode != 0 and "MIYUN_LOG_SALT" in done.stdout + done.stderr


def test_development_salt_is_generated_once_and_kept(monkeypatch, tmp_path):
    from miyun import settings

    monkeypatch.delenv("MIYUN_ENV", raising=False)
    monkeypatch.setenv("MIYUN_LOG_SALT", "change-me")
    first = settings.log_salt(tmp_path / "a")
    assert len(first) == 64 and settings.log_salt(tmp_path / "a") == first          # stable across restarts
    assert settings.log_salt(tmp_path / "b") != first                               # random per install
    assert oct((tmp_path / "a" / "secrets" / "log_salt").stat().st_mode & 0o777) == "0o600"
    monkeypatch.setenv("MIYUN_VAR_DIR", str(tmp_path / "a"))
    context.reset()
    assert context.sender_hash("wx:o1") != context.sender_hash("wx:o2")
    monkeypatch.setenv("MIYUN_VAR_DIR", str(tmp_path / "b"))
    before = context.sender_hash("wx:o1")
    context.reset()
    assert context.sender_hash("wx:o1") != before                                   # another install's salt
    context.reset()


def test_no_code_path_falls_back_to_a_fixed_salt():
    """Only miyun/settings.py reads MIYUN_LOG_SALT, and nothing defaults it to a constant."""
    offenders = []
    for top in ("miyun", "actions", "bot", "console", "scripts"):
        for path in (ROOT / top).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if re.search(r"""environ(?:\.get)?\(\s*["']MIYUN_LOG_SALT["']\s*,\s*["'][^"']+["']""", text):
                offenders.append(f"{path.relative_to(ROOT)}: fixed default")
            if "MIYUN_LOG_SALT" in text and path.name != "settings.py" and re.search(r"environ.*MIYUN_LOG_SALT", text):
                offenders.append(f"{path.relative_to(ROOT)}: reads the salt itself")
    assert offenders == []


# ------------------------------------------------------------------------- retention run

def _tracker_db(path: Path, rows: list[tuple]) -> None:
    """A tracker store as Rasa's SQLTrackerStore lays it out."""
    from miyun.privacy.tracker_store import RedactingTrackerStore

    RedactingTrackerStore(domain=None, dialect="sqlite", db=str(path))  # creates the table
    conn = sqlite3.connect(path)
    conn.executemany("insert into events (sender_id, type_name, timestamp, intent_name, action_name, data) "
                     "values (?, ?, ?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()


def test_retention_run_cli_covers_every_store(published, monkeypatch, capsys):
    import json
    import time

    from miyun.privacy import cli as retention_cli
    from miyun.staff.store import StaffStore

    store = RuntimeStore(published.runtime_db)
    old = _submitted(published)
    store.log_unanswered("我家狗咬了王某怎么办", "n", "h", None, None)
    fid = store.record_feedback("hotline", False, "h")
    store.add_feedback_comment(fid, "我叫张三，电话13900001111")
    store.record_status_attempt("h", time.time() - 3 * 86400)
    store.record_status_attempt("h", time.time())
    staff = StaffStore(published.runtime_db)
    staff.record_login("adm", "10.0.0.9", False, at=time.time() - 3 * 86400)
    staff.record_login("adm", "10.0.0.9", False)
    trackers = published.var_dir / "trackers.db"
    monkeypatch.setenv("MIYUN_TRACKER_DB", str(trackers))
    now, long_ago = time.time(), time.time() - 400 * 86400
    user = lambda t, ts: ("user", ts, "inform", None, json.dumps({"event": "user", "timestamp": ts, "text": t}))
    _tracker_db(trackers, [
        ("gone", *user("我的电话13912345678", long_ago)),
        ("live", "session_started", long_ago, None, None, json.dumps({"event": "session_started", "timestamp": long_ago})),
        ("live", *user("很久以前的话", long_ago + 1)),
        ("live", "session_started", now - 10, None, None, json.dumps({"event": "session_started", "timestamp": now - 10})),
        ("live", *user("现在的话", now)),
    ])
    assert retention_cli.main(["run", "--by", "定时任务"]) == 0                    # 365 days from content: nothing old
    out = capsys.readouterr().out
    assert "365" in out and store.referral(old["ref"])["phone"] == PHONE
    conn = sqlite3.connect(trackers)
    assert {r[0] for r in conn.execute("select sender_id from events")} == {"live"}        # the 400-day-old one went
    assert conn.execute("select count(*) from events").fetchone()[0] == 2                  # and the old session
    conn.close()
    assert store.count_status_attempts("h", 0) == 1 and staff.failed_logins(0, account="adm") == 1
    assert retention_cli.main(["run", "--days", "0", "--by", "定时任务"]) == 0
    row = store.referral(old["ref"])
    assert row["phone"] is None and row["name"] is None and store.audit(old["ref"])[-1]["actor"] == "定时任务"
    assert store.unanswered() == [] and store.feedback()[0]["comment"] is None
    assert sqlite3.connect(trackers).execute("select count(*) from events").fetchone()[0] == 0
    assert "conversations expired" in capsys.readouterr().out


def test_retention_run_needs_a_period(isolated, capsys):
    from miyun.privacy import cli as retention_cli

    assert retention_cli.main(["run"]) == 1 and "retention unknown" in capsys.readouterr().out


def test_consent_text_states_the_retention_period():
    import yaml

    config = yaml.safe_load((ROOT / "content" / "referrals.yml").read_text(encoding="utf-8"))
    text = " ".join(config["consent"]["text"].split())
    assert f"{config['retention_days']}天" in text and "管理员" in text and "12348" in text and "删除" in text
    changed = {**config, "retention_days": 180}
    assert ("consent.text" in {f for f, _ in rules.validate_config(changed)})
