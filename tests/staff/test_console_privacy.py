"""Issue 15 in the console: reading personal data is audited, lists mask phones, CSV cells are no formulas,
locked references are listed and unlocked (audited), admins delete one referral on request."""
from __future__ import annotations

import csv
import io

from miyun.referrals.rules import public_reference

FORMULA = '=HYPERLINK("http://x","点我")'


def test_opening_a_referral_leaves_an_audit_row(env):
    ref = env.refs["own"]
    before = [a for a in env.runtime.audit(ref) if a["action"] == "view"]
    page = env.client("mediator").get(f"/staff/referrals/{ref}")
    assert page.status_code == 200 and "13912345678" in page.text
    views = [a for a in env.runtime.audit(ref) if a["action"] == "view"]
    assert len(views) == len(before) + 1 and views[-1]["actor"] == "med" and views[-1]["at"]
    # the resident's public reference finds it too
    row = env.runtime.referral(ref)
    assert public_reference(row) in page.text
    assert env.client("mediator").get(f"/staff/referrals/{public_reference(row)}").status_code == 200


def test_csv_export_is_audited_per_referral_and_has_no_live_formula(env):
    with env.runtime.transaction() as conn:
        conn.execute("update referrals set description = ? where ref = ?", (FORMULA, env.refs["own"]))
    r = env.client("admin").get("/staff/referrals.csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    own = next(x for x in rows if x["ref"] == env.refs["own"])
    assert own["description"] == "'" + FORMULA
    for ref in env.refs.values():
        assert env.runtime.audit(ref)[-1]["action"] == "export" and env.runtime.audit(ref)[-1]["actor"] == "adm"


def test_locked_references_are_listed_and_unlocked_with_an_audit(env):
    ref = env.refs["own"]
    for i in range(10):
        env.runtime.record_status_failure(ref, 1000.0 + i, 1e12, 10)
    env.runtime.record_status_failure("MY-2026-888888", 1.0, 1e12, 1)            # a guessed, nonexistent one
    med, admin = env.client("mediator"), env.client("admin")
    page = med.get("/staff/referrals/locks").text
    assert ref in page and "MY-2026-888888" not in page                            # mediators: their towns only
    assert "MY-2026-888888" in admin.get("/staff/referrals/locks").text
    assert "查询已锁定" in med.get("/staff/referrals").text
    csrf = env.csrf(med)
    r = med.post(f"/staff/referrals/{ref}/unlock", data={"csrf": csrf, "note": ""})
    assert "err=" in r.headers["location"] and env.runtime.status_locked(ref)      # a reason is required
    r = med.post(f"/staff/referrals/{ref}/unlock", data={"csrf": csrf, "note": "已电话核实申请人"})
    assert "msg=" in r.headers["location"] and not env.runtime.status_locked(ref)
    assert env.audit("referral.unlock")[0]["actor"] == "med" and env.runtime.audit(ref)[-1]["action"] == "unlock"
    # another town's lock: the same 404 as a reference that does not exist
    other = env.refs["other"]
    env.runtime.record_status_failure(other, 1.0, 1e12, 1)
    assert med.post(f"/staff/referrals/{other}/unlock", data={"csrf": csrf, "note": "x"}).status_code == 404
    assert env.runtime.status_locked(other)


def test_admin_deletes_one_referral_on_request(env):
    ref = env.refs["own"]
    admin = env.client("admin")
    csrf = env.csrf(admin)
    assert "err=" in admin.post(f"/staff/referrals/{ref}/delete", data={"csrf": csrf}).headers["location"]
    assert env.runtime.referral(ref)["phone"] == "13912345678"
    r = admin.post(f"/staff/referrals/{ref}/delete", data={"csrf": csrf, "reason": "申请人经12348要求删除"})
    assert r.status_code == 303
    row = env.runtime.referral(ref)
    assert row["phone"] is None and row["name"] is None and row["description"] is None and row["anonymized"] == 1
    assert env.runtime.referral(env.refs["other"])["phone"] == "13800001111"
    assert env.audit("referral.delete")[0]["target"] == ref and env.runtime.audit(ref)[-1]["action"] == "delete"
    med = env.client("mediator")
    assert med.post(f"/staff/referrals/{ref}/delete", data={"csrf": env.csrf(med), "reason": "x"}).status_code == 403
