"""`staff`: manage the staff console's accounts from the command line (the first admin starts here)."""
from __future__ import annotations

import argparse
import getpass
import sqlite3
import sys
from typing import Optional, Sequence

from miyun import settings as settings_mod
from miyun.knowledge.content import TOWNS
from miyun.staff.store import ROLES, StaffStore, hash_password

CLI_ACTOR = "cli"


def _store(cfg: settings_mod.Settings) -> StaffStore:
    return StaffStore(cfg.runtime_db)


def _password(args: argparse.Namespace) -> str:
    """From stdin (--password-stdin, first line) or prompted twice without echo."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("密码 / password: ")
    if first != getpass.getpass("再输一次 / again: "):
        raise ValueError("两次输入的密码不一致 / passwords differ")
    return first


def _towns(raw: Optional[str]) -> list[str]:
    towns = [t.strip() for t in (raw or "").replace("，", ",").replace("、", ",").split(",") if t.strip()]
    unknown = [t for t in towns if t not in TOWNS]
    if unknown:
        raise ValueError(f"未知镇街 / unknown town: {'、'.join(unknown)}")
    return towns


def cmd_create(args: argparse.Namespace, cfg: settings_mod.Settings) -> int:
    """Create an account: editor (content), mediator (referrals of --towns), admin (everything)."""
    towns = _towns(args.towns)
    if args.role == "mediator" and not towns:
        raise ValueError("调解员需要 --towns / a mediator needs --towns")
    store = _store(cfg)
    if store.user(args.name):
        raise ValueError(f"用户已存在 / user exists: {args.name}")
    try:
        store.create_user(args.name, hash_password(_password(args)), args.role, towns, CLI_ACTOR)
    except sqlite3.IntegrityError as exc:
        raise ValueError(f"用户已存在 / user exists: {args.name}") from exc
    print(f"✓ 已创建 / created {args.name} ({args.role}{': ' + '、'.join(towns) if towns else ''})")
    return 0


def cmd_list(args: argparse.Namespace, cfg: settings_mod.Settings) -> int:
    """Every account with its role, towns and state."""
    users = _store(cfg).users()
    for u in users:
        state = "停用/disabled" if u["disabled"] else "正常/active"
        print(f"{u['name']:<16} {u['role']:<9} {state:<14} {'、'.join(u['towns'])}")
    print(f"\n{len(users)} 个账号 / users")
    return 0


def cmd_set_password(args: argparse.Namespace, cfg: settings_mod.Settings) -> int:
    """Set a new password (ends the user's open sessions)."""
    store = _store(cfg)
    if store.user(args.name) is None:
        raise ValueError(f"没有这个用户 / no user {args.name}")
    store.update_user(args.name, CLI_ACTOR, password_hash=hash_password(_password(args)))
    print(f"✓ 已更新密码 / password set for {args.name}")
    return 0


def cmd_disable(args: argparse.Namespace, cfg: settings_mod.Settings) -> int:
    """Disable an account (ends its sessions); --enable turns it back on."""
    store = _store(cfg)
    if store.user(args.name) is None:
        raise ValueError(f"没有这个用户 / no user {args.name}")
    store.update_user(args.name, CLI_ACTOR, disabled=not args.enable)
    print(f"✓ {args.name}: {'已启用 / enabled' if args.enable else '已停用 / disabled'}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="staff", description="密云法治服务助手 staff console accounts")
    sub = p.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create-user", help=cmd_create.__doc__)
    create.add_argument("name")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--towns", help="comma-separated towns, e.g. 古北口镇,石城镇 (mediators)")
    create.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    create.set_defaults(fn=cmd_create)
    sub.add_parser("list-users", help=cmd_list.__doc__).set_defaults(fn=cmd_list)
    setpw = sub.add_parser("set-password", help=cmd_set_password.__doc__)
    setpw.add_argument("name")
    setpw.add_argument("--password-stdin", action="store_true")
    setpw.set_defaults(fn=cmd_set_password)
    disable = sub.add_parser("disable-user", help=cmd_disable.__doc__)
    disable.add_argument("name")
    disable.add_argument("--enable", action="store_true", help="turn a disabled account back on")
    disable.set_defaults(fn=cmd_disable)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.fn(args, settings_mod.load())
    except ValueError as exc:
        print(f"✗ {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
