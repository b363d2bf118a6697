"""`referrals`: the staff command line for mediation referrals and callback requests."""
from __future__ import annotations

import argparse
import csv
import getpass
import sys
from typing import Optional, Sequence

from miyun import settings as settings_mod
from miyun.knowledge.store import ContentStore, ContentUnavailable
from miyun.referrals.rules import (EXPORT_COLUMNS, STATUSES, clean_reference, export_row, mask_phone, public_reference,
                                   retention_cutoff, split_reference)
from miyun.referrals.runtime import runtime_for
from miyun.referrals.store import Runtime


def _store(cfg: settings_mod.Settings) -> Runtime:
    return runtime_for(cfg)


def _who(args: argparse.Namespace) -> str:
    """Who reads or changes data from the command line: --by, else the operating-system account."""
    return getattr(args, "by", None) or f"cli:{getpass.getuser()}"


def _sequence(text: str) -> str:
    """The staff sequence of MY-2026-000123 or of the resident's MY-2026-000123-K7QX."""
    cleaned = clean_reference(text)
    return split_reference(cleaned)[0] if cleaned else text


def cmd_list(args: argparse.Namespace, cfg: settings_mod.Settings) -> int:
    """Referrals, newest last, filtered by status, town or kind (phones masked; `show` for the full record)."""
    rows = _store(cfg).referrals(args.status, args.town, args.kind)
    for r in rows:
        phone = mask_phone(r["phone"]) if r.get("phone") else ""
        print(f"{r['ref']}  {r['created_at'][:16]}  {r['kind']:<9} {r['status']:<13} {r['level'] or '':<9} {r['town'] or '':<6} {phone:<11} {r['dispute_type'] or ''}")
    print(f"\n{len(rows)} 条 / referrals")
    return 0


def cmd_show(args: argparse.Namespace, cfg: settings_mod.Settings) -> int:
    """One referral in full, with its audit trail; the reading is audited."""
    store = _store(cfg)
    row = store.referral(_sequence(args.ref))
    if row is None:
        print(f"✗ 没有这个编号 / no referral {args.ref}")
        return 1
    store.log_access(_who(args), "view", [row["ref"]], "cli show")
    print(f"{'public_ref':>13}: {public_reference(row)}")
    for key in EXPORT_COLUMNS:
        print(f"{key:>13}: {row.get(key) if row.get(key) is not None else ''}")
    print("\n审计记录 / audit:")
    for a in store.audit(args.ref):
        print(f"  {a['at']}  {a['actor']:<10} {a['action']:<9} {a['before'] or ''} → {a['after'] or ''}  {a['note'] or ''}")
    return 0


def cmd_update(args: argparse.Namespace, cfg: settings_mod.Settings) -> int:
    """Change the status or the assigned mediator; the change and its note go to the audit table."""
    changes = {}
    if args.status:
        changes["status"] = args.status
    if args.assign:
        changes["assigned_to"] = args.assign
    if not changes:
        print("✗ 请给出 --status 或 --assign / give --status or --assign")
        return 1
    try:
        row = _store(cfg).update_referral(args.ref, args.by, args.note, **changes)
    except KeyError:
        print(f"✗ 没有这个编号 / no referral {args.ref}")
        return 1
    print(f"✓ {row['ref']}: status={row['status']} assigned_to={row['assigned_to'] or ''}")
    return 0


def cmd_export(args: argparse.Namespace, cfg: settings_mod.Settings) -> int:
    """CSV with a UTF-8 BOM so Excel shows the Chinese; personal data only with --with-personal-data."""
    rows = _store(cfg).referrals(args.status, args.town, args.kind)
    with open(args.csv, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(EXPORT_COLUMNS)
        for r in rows:
            writer.writerow(export_row(r, args.with_personal_data))
    if args.with_personal_data and rows:
        _store(cfg).log_access(_who(args), "export", [r["ref"] for r in rows], f"cli export {args.csv}")
    print(f"✓ {len(rows)} 条写入 / rows written to {args.csv}")
    return 0


def cmd_delete(args: argparse.Namespace, cfg: settings_mod.Settings) -> int:
    """Delete one referral's personal data on the resident's request (e.g. through 12348); audited."""
    ref = _sequence(args.ref)
    if not _store(cfg).erase_referral(ref, args.by, args.reason):
        print(f"✗ 没有这个编号 / no referral {args.ref}")
        return 1
    print(f"✓ {ref}: 个人信息已删除 / personal data deleted (the case type, town and status stay for statistics)")
    return 0


def cmd_locks(args: argparse.Namespace, cfg: settings_mod.Settings) -> int:
    """References locked after too many failed status checks (residents then get only 请拨打12348)."""
    rows = _store(cfg).status_locks()
    for r in rows:
        print(f"{r['ref']}  locked {r['locked_at'][:16]}  failures {r['failures']}")
    print(f"\n{len(rows)} 个锁定 / locked")
    return 0


def cmd_unlock(args: argparse.Namespace, cfg: settings_mod.Settings) -> int:
    """Lift a status-check lock after the resident was checked by phone; audited."""
    ref = _sequence(args.ref)
    if not _store(cfg).unlock_status(ref, args.by, args.note):
        print(f"✗ {ref} 没有被锁定 / not locked")
        return 1
    print(f"✓ {ref} 已解锁 / unlocked")
    return 0


def cmd_anonymize(args: argparse.Namespace, cfg: settings_mod.Settings) -> int:
    """Blank personal data of referrals older than the retention period (only referrals: `retention run` does everything)."""
    days = args.days
    if days is None:
        try:
            days = (ContentStore(cfg.content_db).setting("referrals") or {}).get("retention_days")
        except ContentUnavailable:
            days = None
    if days is None:
        print("✗ 不知道保存期限：请发布内容或给出 --days / retention unknown: publish content or pass --days")
        return 1
    cutoff = retention_cutoff(days)
    n = _store(cfg).anonymize_older_than(cutoff, args.by)
    print(f"✓ 已匿名化 {n} 条（早于 {cutoff[:10]}）/ anonymized {n}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="referrals", description="密云法治服务助手 mediation referrals for staff")
    sub = p.add_subparsers(dest="command", required=True)
    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("--status", choices=STATUSES)
    filters.add_argument("--town")
    filters.add_argument("--kind", choices=["mediation", "callback"])
    sub.add_parser("list", parents=[filters], help=cmd_list.__doc__).set_defaults(fn=cmd_list)
    show = sub.add_parser("show", help=cmd_show.__doc__)
    show.add_argument("ref")
    show.add_argument("--by", help="who reads it (audited; default: the operating-system account)")
    show.set_defaults(fn=cmd_show)
    up = sub.add_parser("update", help=cmd_update.__doc__)
    up.add_argument("ref")
    up.add_argument("--status", choices=STATUSES)
    up.add_argument("--assign", help="mediator's name")
    up.add_argument("--by", required=True, help="who makes the change")
    up.add_argument("--note", required=True, help="internal note (not shown to the resident)")
    up.set_defaults(fn=cmd_update)
    ex = sub.add_parser("export", parents=[filters], help=cmd_export.__doc__)
    ex.add_argument("--csv", required=True)
    ex.add_argument("--with-personal-data", action="store_true")
    ex.add_argument("--by", help="who exports (audited with personal data; default: the operating-system account)")
    ex.set_defaults(fn=cmd_export)
    de = sub.add_parser("delete", help=cmd_delete.__doc__)
    de.add_argument("ref")
    de.add_argument("--by", required=True, help="who deletes")
    de.add_argument("--reason", required=True, help="e.g. 申请人经12348要求删除, with the call's date")
    de.set_defaults(fn=cmd_delete)
    sub.add_parser("locks", help=cmd_locks.__doc__).set_defaults(fn=cmd_locks)
    ul = sub.add_parser("unlock", help=cmd_unlock.__doc__)
    ul.add_argument("ref")
    ul.add_argument("--by", required=True, help="who unlocks")
    ul.add_argument("--note", required=True, help="why, e.g. 已电话核实申请人")
    ul.set_defaults(fn=cmd_unlock)
    an = sub.add_parser("anonymize", help=cmd_anonymize.__doc__)
    an.add_argument("--days", type=int, help="override the retention period")
    an.add_argument("--by", default="staff")
    an.set_defaults(fn=cmd_anonymize)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    return args.fn(args, settings_mod.load())


if __name__ == "__main__":
    sys.exit(main())
