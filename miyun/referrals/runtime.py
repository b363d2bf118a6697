"""Open the runtime store the settings name: SQLite by default, PostgreSQL in a cluster."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from miyun.referrals.sqlite import RuntimeStore
from miyun.referrals.store import Runtime


def open_runtime(dsn: str | None = None, sqlite_path: Path | None = None) -> Runtime:
    """The runtime store a DSN names (MIYUN_RUNTIME_DSN).

    * empty → SQLite at `sqlite_path` (the embedded default, `var/runtime.db`);
    * `sqlite:///relative.db` or `sqlite:////absolute/path.db` → SQLite at that path;
    * `postgresql://…` or `postgres://…` → PostgreSQL (psycopg 3), shared by all replicas.
    """
    dsn = (dsn or "").strip()
    if not dsn:
        if sqlite_path is None:
            raise ValueError("an empty runtime DSN needs the SQLite file path")
        return RuntimeStore(sqlite_path)
    if dsn.startswith("sqlite:///"):
        return RuntimeStore(Path(dsn[len("sqlite:///"):]))  # sqlite:///rel.db or sqlite:////abs/path.db
    if dsn.startswith(("postgresql://", "postgres://")):
        from miyun.referrals.postgres import PgRuntimeStore  # psycopg only when asked for

        return PgRuntimeStore(dsn)
    raise ValueError("MIYUN_RUNTIME_DSN must be empty, sqlite:///path or postgresql://… (got another scheme)")


def runtime_for(settings: Any) -> "Runtime":
    """The runtime store the settings choose (MIYUN_RUNTIME_DSN, else var/runtime.db)."""
    return open_runtime(settings.runtime_dsn, settings.runtime_db)
