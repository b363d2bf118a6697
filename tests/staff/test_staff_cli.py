"""The `staff` command: create, list, set-password, disable accounts."""
from __future__ import annotations

import io

from miyun.staff import cli as staff_cli
from miyun.staff.store import StaffStore, verify_password


def _run(monkeypatch, argv: list[str], stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return staff_cli.main(argv)


def test_staff_cli_accounts(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("MIYUN_VAR_DIR", str(tmp_path / "var"))
    store = StaffStore(tmp_path / "var" / "runtime.db")
    assert _run(monkeypatch, ["create-user", "老王", "--role", "admin", "--password-stdin"], "first-admin-pass\n") == 0
    assert verify_password(store.user("老王")["password_hash"], "first-admin-pass")
    assert store.user("老王")["password_hash"].startswith("$argon2id$")
    assert _run(monkeypatch, ["create-user", "李", "--role", "mediator", "--towns", "古北口镇，石城镇", "--password-stdin"],
                "mediator-pass-1\n") == 0
    assert store.user("李")["towns"] == ["古北口镇", "石城镇"]
    # refused: mediator without towns, unknown town, short password, duplicate name
    assert _run(monkeypatch, ["create-user", "赵", "--role", "mediator", "--password-stdin"], "mediator-pass-1\n") == 1
    assert _run(monkeypatch, ["create-user", "赵", "--role", "mediator", "--towns", "火星镇", "--password-stdin"], "mediator-pass-1\n") == 1
    assert _run(monkeypatch, ["create-user", "赵", "--role", "editor", "--password-stdin"], "short\n") == 1
    assert _run(monkeypatch, ["create-user", "老王", "--role", "editor", "--password-stdin"], "another-pass-1\n") == 1
    assert store.user("赵") is None
    capsys.readouterr()
    assert _run(monkeypatch, ["list-users"]) == 0
    out = capsys.readouterr().out
    assert "老王" in out and "admin" in out and "古北口镇、石城镇" in out and "2 个账号" in out and "argon2" not in out
    assert _run(monkeypatch, ["set-password", "老王", "--password-stdin"], "second-admin-pass\n") == 0
    assert verify_password(store.user("老王")["password_hash"], "second-admin-pass")
    assert _run(monkeypatch, ["disable-user", "李"]) == 0 and store.user("李")["disabled"]
    assert _run(monkeypatch, ["disable-user", "李", "--enable"]) == 0 and not store.user("李")["disabled"]
    assert _run(monkeypatch, ["disable-user", "nobody"]) == 1
    actions = [(r["actor"], r["action"]) for r in store.audit_rows()]
    assert ("cli", "user.create") in actions and actions.count(("cli", "user.update")) == 3
