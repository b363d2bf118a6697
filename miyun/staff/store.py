"""All SQL of the staff console's accounts: staff users, sessions, login attempts and the staff
audit log (in `runtime.db`, WAL, one transaction per write), and password hashing. The
statistics read from Rasa's tracker store are `miyun.staff.insights`."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Optional

from miyun.db import Transaction, wal_connection

ROLES = ("editor", "mediator", "admin")

STAFF_SCHEMA = """
create table if not exists staff_users (
    id integer primary key,
    name text unique not null,
    password_hash text not null,
    role text not null,
    towns text not null default '[]',
    disabled integer not null default 0,
    created_at text not null,
    updated_at text not null
);
create table if not exists staff_sessions (
    token_hash text primary key,
    user_id integer not null,
    csrf text not null,
    created_at real not null,
    expires_at real not null,
    ip text
);
create index if not exists staff_sessions_user on staff_sessions (user_id);
create table if not exists staff_login_attempts (
    id integer primary key,
    account text not null,
    ip text not null,
    at real not null,
    ok integer not null
);
create index if not exists staff_login_account on staff_login_attempts (account, at);
create index if not exists staff_login_ip on staff_login_attempts (ip, at);
create table if not exists staff_audit (
    id integer primary key,
    at text not null,
    actor text not null,
    action text not null,
    target text,
    before text,
    after text
);
"""


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def token_hash(token: str) -> str:
    """Sessions are stored by the SHA-256 of their cookie value, never the value itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def _user(row: sqlite3.Row | None) -> Optional[dict]:
    if row is None:
        return None
    out = dict(row)
    out["towns"] = json.loads(out.get("towns") or "[]")
    out["disabled"] = bool(out["disabled"])
    return out


class StaffStore:
    """Staff accounts, sessions, login attempts and the audit log."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._conn().executescript(STAFF_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        return wal_connection(self._local, self.path)

    def _write(self) -> Transaction:
        return Transaction(self._conn())

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        return self._conn().execute(sql, tuple(params)).fetchall()

    # ------------------------------------------------------------------ users
    def create_user(self, name: str, password_hash: str, role: str, towns: list[str], actor: str) -> dict:
        """Insert a user (names are unique) and audit it."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        now = _now()
        with self._write() as conn:
            conn.execute(
                "insert into staff_users (name, password_hash, role, towns, created_at, updated_at) values (?, ?, ?, ?, ?, ?)",
                (name, password_hash, role, json.dumps(towns, ensure_ascii=False), now, now),
            )
            after = {"name": name, "role": role, "towns": towns}
            _audit(conn, actor, "user.create", name, None, after)
        return self.user(name)  # type: ignore[return-value]

    def user(self, name: str) -> Optional[dict]:
        rows = self._all("select * from staff_users where name = ?", [name])
        return _user(rows[0]) if rows else None

    def user_by_id(self, user_id: int) -> Optional[dict]:
        rows = self._all("select * from staff_users where id = ?", [user_id])
        return _user(rows[0]) if rows else None

    def users(self) -> list[dict]:
        return [_user(r) for r in self._all("select * from staff_users order by name")]  # type: ignore[misc]

    def update_user(self, name: str, actor: str, **changes: Any) -> dict:
        """Change role, towns, disabled or password_hash; sessions end on disable or a new password."""
        allowed = {"role", "towns", "disabled", "password_hash"}
        if not changes or set(changes) - allowed:
            raise ValueError(f"can only change {sorted(allowed)}")
        if "role" in changes and changes["role"] not in ROLES:
            raise ValueError(f"unknown role {changes['role']!r}")
        values = {k: (json.dumps(v, ensure_ascii=False) if k == "towns" else int(v) if k == "disabled" else v)
                  for k, v in changes.items()}
        with self._write() as conn:
            row = conn.execute("select * from staff_users where name = ?", (name,)).fetchone()
            if row is None:
                raise KeyError(name)
            before = {k: ("***" if k == "password_hash" else _user(row)[k]) for k in changes}  # type: ignore[index]
            sets = ", ".join(f"{k} = ?" for k in values)
            conn.execute(f"update staff_users set {sets}, updated_at = ? where name = ?", (*values.values(), _now(), name))
            if changes.get("disabled") or "password_hash" in changes:
                conn.execute("delete from staff_sessions where user_id = ?", (row["id"],))
            after = {k: ("***" if k == "password_hash" else v) for k, v in changes.items()}
            _audit(conn, actor, "user.update", name, before, after)
        return self.user(name)  # type: ignore[return-value]

    # ------------------------------------------------------------------ sessions
    def create_session(self, user_id: int, token: str, csrf: str, lifetime_s: float, ip: str) -> None:
        now = time.time()
        with self._write() as conn:
            conn.execute("delete from staff_sessions where expires_at < ?", (now,))
            conn.execute(
                "insert into staff_sessions (token_hash, user_id, csrf, created_at, expires_at, ip) values (?, ?, ?, ?, ?, ?)",
                (token_hash(token), user_id, csrf, now, now + lifetime_s, ip),
            )

    def session(self, token: str, now: float | None = None) -> Optional[dict]:
        """The live session with its (enabled) user, or None when unknown, expired or disabled."""
        now = time.time() if now is None else now
        rows = self._all(
            "select s.token_hash, s.csrf, s.expires_at, s.user_id from staff_sessions s where s.token_hash = ?",
            [token_hash(token)],
        )
        if not rows:
            return None
        session = dict(rows[0])
        if session["expires_at"] <= now:
            self.delete_session(token)
            return None
        user = self.user_by_id(session["user_id"])
        if user is None or user["disabled"]:
            return None
        session["user"] = user
        return session

    def delete_session(self, token: str) -> None:
        with self._write() as conn:
            conn.execute("delete from staff_sessions where token_hash = ?", (token_hash(token),))

    def expire_sessions_now(self) -> None:
        """Test and maintenance helper: end every session."""
        with self._write() as conn:
            conn.execute("update staff_sessions set expires_at = 0")

    # ------------------------------------------------------------------ login attempts
    def record_login(self, account: str, ip: str, ok: bool, at: float | None = None) -> None:
        with self._write() as conn:
            conn.execute("insert into staff_login_attempts (account, ip, at, ok) values (?, ?, ?, ?)",
                         (account, ip, time.time() if at is None else at, int(ok)))

    def failed_logins(self, since: float, account: str | None = None, ip: str | None = None) -> int:
        """Failed attempts since a unix time, for one account or one IP."""
        column, value = ("account", account) if account is not None else ("ip", ip)
        row = self._all(f"select count(*) from staff_login_attempts where {column} = ? and at >= ? and ok = 0",
                        [value, since])[0]
        return int(row[0])

    def prune(self, before: float) -> dict:
        """The retention run: login attempts (they hold IP addresses) and sessions past `before` (unix time)."""
        with self._write() as conn:
            attempts = conn.execute("delete from staff_login_attempts where at < ?", (before,)).rowcount
            sessions = conn.execute("delete from staff_sessions where expires_at < ?", (before,)).rowcount
        return {"login_attempts": attempts, "staff_sessions": sessions}

    # ------------------------------------------------------------------ audit
    def audit(self, actor: str, action: str, target: str | None, before: Any = None, after: Any = None) -> None:
        """Record one write (who, when, what, before, after)."""
        with self._write() as conn:
            _audit(conn, actor, action, target, before, after)

    def audit_rows(self, limit: int = 500, action_prefix: str | None = None) -> list[dict]:
        sql, params = "select * from staff_audit", []
        if action_prefix:
            sql += " where action like ?"
            params.append(action_prefix + "%")
        return [dict(r) for r in self._all(sql + " order by id desc limit ?", [*params, limit])]


def _audit(conn: sqlite3.Connection, actor: str, action: str, target: str | None, before: Any, after: Any) -> None:
    dump = (lambda v: None if v is None else json.dumps(v, ensure_ascii=False, default=str))
    conn.execute("insert into staff_audit (at, actor, action, target, before, after) values (?, ?, ?, ?, ?, ?)",
                 (_now(), actor, action, target, dump(before), dump(after)))


# ---------------------------------------------------------------------- passwords

MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    """An argon2id hash (argon2-cffi defaults)."""
    from argon2 import PasswordHasher

    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"密码至少 {MIN_PASSWORD_LENGTH} 位 / password must have at least {MIN_PASSWORD_LENGTH} characters")
    return PasswordHasher().hash(password)


_DUMMY_HASH: list[str] = []


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant-effort check; an unknown account is checked against a dummy hash."""
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    if stored_hash is None:
        if not _DUMMY_HASH:
            _DUMMY_HASH.append(PasswordHasher().hash("dummy-password-for-timing"))
        stored_hash = _DUMMY_HASH[0]
        password = password + "\x00never"
    try:
        return PasswordHasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False
