"""How many documents of each kind were made per ISO week: the only record kept (no contents, no people).

In runtime.db (SQLite), next to the staff tables; the staff dashboard reads it.
"""
from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

from miyun.db import Transaction, wal_connection

SCHEMA = """
create table if not exists document_counts (
    kind text not null,
    week text not null,
    n integer not null default 0,
    primary key (kind, week)
)
"""


def iso_week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


class DocumentCounts:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._ready = False

    def _conn(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = wal_connection(self._local, self.path)
        if not self._ready:
            conn.execute(SCHEMA)
            self._ready = True
        return conn

    def record(self, kind: str, day: dt.date | None = None) -> None:
        with Transaction(self._conn()) as conn:
            conn.execute(
                "insert into document_counts (kind, week, n) values (?, ?, 1) "
                "on conflict (kind, week) do update set n = n + 1", (kind, iso_week(day or dt.date.today())))

    def weekly(self, weeks: int = 8, today: dt.date | None = None) -> list[tuple[str, str, int]]:
        """(week, kind, count) for the last `weeks` ISO weeks, newest first."""
        today = today or dt.date.today()
        since = iso_week(today - dt.timedelta(weeks=weeks - 1))
        rows = self._conn().execute(
            "select week, kind, n from document_counts where week >= ? order by week desc, kind", (since,)).fetchall()
        return [(r["week"], r["kind"], int(r["n"])) for r in rows]
