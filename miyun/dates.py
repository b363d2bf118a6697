"""Dates as content files hold them: YAML gives a date, a datetime or a string."""
from __future__ import annotations

import datetime as dt
from typing import Any, Optional


def as_date(value: Any) -> Optional[dt.date]:
    """The calendar date a YAML value names, or None when it names none."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def iso_date(value: Any) -> Optional[str]:
    """`as_date` as YYYY-MM-DD, or None."""
    day = as_date(value)
    return day.isoformat() if day else None
