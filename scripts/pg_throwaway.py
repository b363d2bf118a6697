"""A private, throwaway PostgreSQL server for tests: initdb in a temp dir, loopback only, removed after."""
from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator, Optional

from scripts import pg_auth, servers
from scripts.cluster import _pg_bin


def available() -> Optional[str]:
    """Why a throwaway server cannot run here, or None when it can."""
    try:
        _pg_bin("initdb")
        _pg_bin("postgres")
    except SystemExit:
        return "PostgreSQL is not installed (scripts/cluster_setup.sh installs it)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "no 'postgres' user to run PostgreSQL as"
    return None


def make_base(prefix: str) -> Path:
    """A new temp folder PostgreSQL can reach: under TMPDIR when the `postgres` user can walk to it,
    else under /tmp (a checkout inside a private folder, e.g. `mktemp -d`, is closed to `postgres`)."""
    parent = Path(tempfile.gettempdir())
    if os.geteuid() == 0:
        reach = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(parent)], check=False)
        parent = parent if reach.returncode == 0 else Path("/tmp")
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


@contextlib.contextmanager
def throwaway_postgres(base: Path) -> Iterator[str]:
    """Start PostgreSQL in `base`, yield a DSN for a fresh database, stop it afterwards."""
    import psycopg

    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    data, run = base / "data", base / "run"
    owner = pwd.getpwnam("postgres") if as_postgres else None
    base.mkdir(parents=True, exist_ok=True)
    if owner:
        os.chown(base, owner.pw_uid, owner.pw_gid)
    pg_auth.private_socket_dir(run, owner.pw_uid if owner else None, owner.pw_gid if owner else None)
    pwfile = base / "superuser.pw"            # initdb needs one for scram; thrown away with the server
    pwfile.write_text(secrets.token_hex(16) + "\n")
    pwfile.chmod(0o600)
    if owner:
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
    subprocess.run([*as_postgres, _pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth-local=peer",
                    "--auth-host=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, cwd="/")
    pwfile.unlink()
    pg_auth.write_auth(data)                  # the same rules as the cluster: peer admin, scram for the rest
    port = servers.free_port()
    log = base / "postgres.log"
    proc = servers.spawn("postgres", [*as_postgres, _pg_bin("postgres"), "-D", str(data), "-p", str(port),
                                      "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={run}",
                                      *pg_auth.SOCKET_OPTIONS, "-c", "fsync=off"], dict(os.environ), log)
    server = servers.Server("postgres", f"127.0.0.1:{port}", "", proc, log)
    try:
        password = secrets.token_hex(12)
        deadline = time.monotonic() + 30
        while True:
            try:
                admin = psycopg.connect(host=str(run), port=port, user="postgres", dbname="postgres", autocommit=True)
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"throwaway PostgreSQL did not start: {log.read_text(errors='replace')[-2000:]}")
                time.sleep(0.2)
        with admin:
            admin.execute(f"create role miyun login password '{password}'")
            admin.execute("create database miyun_test owner miyun")
        yield f"postgresql://miyun:{password}@127.0.0.1:{port}/miyun_test"
    finally:
        server.stop()
