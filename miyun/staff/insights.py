"""Read-only statistics for the staff dashboard from Rasa's SQLite tracker store (`var/trackers.db`)."""
from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any, Iterable


class TrackerStats:
    """Read-only counts from Rasa's SQL tracker store; all zeros when the file does not exist."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        if not self.path.exists():
            return []
        try:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
        except sqlite3.Error:
            return []
        try:
            return conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error:          # no events table yet (Rasa never ran), or a locked file
            return []
        finally:
            conn.close()

    def messages_per_day(self, days: int, today: dt.date | None = None) -> list[tuple[str, int]]:
        """(YYYY-MM-DD, user messages) for the last `days` days, oldest first, zeros included."""
        today = today or dt.date.today()
        start = today - dt.timedelta(days=days - 1)
        since = dt.datetime.combine(start, dt.time()).timestamp()
        counts = dict(self._rows(
            "select date(timestamp, 'unixepoch', 'localtime') as d, count(*) from events "
            "where type_name = 'user' and timestamp >= ? group by d", [since]))
        return [((start + dt.timedelta(days=i)).isoformat(), int(counts.get((start + dt.timedelta(days=i)).isoformat(), 0)))
                for i in range(days)]

    def top_intents(self, limit: int = 10) -> list[tuple[str, int]]:
        return [(str(r[0]), int(r[1])) for r in self._rows(
            "select intent_name, count(*) as n from events where type_name = 'user' and intent_name is not null "
            "group by intent_name order by n desc, intent_name limit ?", [limit])]

    def count_messages(self, intent: str | None = None) -> int:
        sql, params = "select count(*) from events where type_name = 'user'", []
        if intent:
            sql += " and intent_name = ?"
            params.append(intent)
        rows = self._rows(sql, params)
        return int(rows[0][0]) if rows else 0
