"""`retention`: apply the retention period (run it daily, e.g. from cron: `make retention`)."""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from miyun import settings as settings_mod
from miyun.privacy import retention

LABELS = {
    "referrals_anonymized": "转介个人信息清除 / referrals anonymized",
    "unanswered": "未答问题删除 / unanswered questions deleted",
    "feedback_comments": "反馈意见清除 / feedback comments blanked",
    "status_attempts": "查询记录删除 / status attempts deleted",
    "status_failures": "查询失败记录删除 / status failures deleted",
    "login_attempts": "登录记录删除 / login attempts deleted",
    "staff_sessions": "过期会话删除 / expired staff sessions deleted",
    "tracker_events_redacted": "对话个人信息遮盖 / conversation events redacted",
    "conversations_expired": "对话删除 / conversations expired",
    "old_session_events_deleted": "旧会话消息删除 / old session events deleted",
}


def cmd_run(args: argparse.Namespace, cfg: settings_mod.Settings) -> int:
    """Anonymise referrals, delete unanswered questions and feedback comments, expire conversations."""
    days = args.days if args.days is not None else retention.retention_days(cfg)
    if days is None:
        print("✗ 不知道保存期限：请发布内容（referrals.yml › retention_days）或给出 --days / "
              "retention unknown: publish content or pass --days")
        return 1
    report = retention.run(cfg, days, args.by, trackers=not args.skip_trackers)
    print(f"保存期限 {days} 天，早于 {report['cutoff'][:10]} / retention {days} days, before {report['cutoff']}")
    for key, label in LABELS.items():
        if key in report:
            print(f"  {label}: {report[key]}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="retention", description="密云法治服务助手: apply the retention period")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help=cmd_run.__doc__)
    run.add_argument("--days", type=int, help="override referrals.yml › retention_days (e.g. 0 in a test)")
    run.add_argument("--by", default="retention", help="who runs it (written to the audit)")
    run.add_argument("--skip-trackers", action="store_true", help="leave Rasa's tracker store alone")
    run.set_defaults(fn=cmd_run)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    if args.days is not None and args.days < 0:
        print("✗ --days must be >= 0")
        return 1
    return args.fn(args, settings_mod.load())


if __name__ == "__main__":
    sys.exit(main())
