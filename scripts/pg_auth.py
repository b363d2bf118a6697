"""Client authentication of the PostgreSQL servers this project starts (the cluster's and the tests' throwaway one).

Never `trust`: the admin connects over the Unix socket with `peer` (the OS user running the scripts is
mapped to the `postgres` role, nobody else), everything else needs a scram-sha-256 password, and the
socket directory is 0700 so other local users cannot even reach the socket. The files are rewritten before
every start, so a data directory made by an older `initdb --auth-local=trust` is fixed on its next start.
"""
from __future__ import annotations

import getpass
import os
import pwd
from pathlib import Path

ADMIN_MAP = "miyun_admin"


def admin_os_user() -> str:
    """The OS user whose scripts administer the server (root when run as root)."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return getpass.getuser()


def pg_hba() -> str:
    return (
        "# written by scripts/pg_auth.py before every start; no trust lines\n"
        "# TYPE  DATABASE  USER      ADDRESS        METHOD\n"
        f"local   all       postgres                 peer map={ADMIN_MAP}\n"
        "local   all       all                      scram-sha-256\n"
        "host    all       all       127.0.0.1/32   scram-sha-256\n"
        "host    all       all       ::1/128        scram-sha-256\n"
    )


def pg_ident(os_user: str) -> str:
    users = dict.fromkeys(["postgres", os_user])          # ordered, without a duplicate line
    lines = "".join(f"{ADMIN_MAP}  {u}  postgres\n" for u in users)
    return "# written by scripts/pg_auth.py: OS users allowed to connect as the postgres superuser\n" + lines


def write_auth(data: Path, os_user: str | None = None) -> None:
    """Write pg_hba.conf and pg_ident.conf into the data directory (mode 600, owned like the directory)."""
    st = data.stat()
    for name, text in (("pg_hba.conf", pg_hba()), ("pg_ident.conf", pg_ident(os_user or admin_os_user()))):
        path = data / name
        path.write_text(text)
        path.chmod(0o600)
        if os.geteuid() == 0:
            os.chown(path, st.st_uid, st.st_gid)


def private_socket_dir(run: Path, owner_uid: int | None = None, owner_gid: int | None = None) -> None:
    """The socket directory: 0700, owned by the server's user."""
    run.mkdir(parents=True, exist_ok=True)
    run.chmod(0o700)
    if owner_uid is not None and os.geteuid() == 0:
        os.chown(run, owner_uid, owner_gid if owner_gid is not None else -1)


# Server options that go with the files: the socket itself is private too.
SOCKET_OPTIONS = ["-c", "unix_socket_permissions=0700"]
