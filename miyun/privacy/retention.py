"""The retention run: what the consent text promises, done in one command (`retention run`).

Past the retention period (`content/referrals.yml › retention_days`, the number the consent text
states): referrals' personal fields are blanked, unanswered questions deleted, feedback comments
blanked, and conversations expired in Rasa's tracker store. Status-check attempts and failures and
staff login attempts only serve limits of at most a day, so they go after `LIMITS_KEEP_S`. It also
sweeps the tracker store for finished flows stored before the redacting store was in use.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from miyun.knowledge.store import ContentStore, ContentUnavailable
from miyun.referrals.rules import retention_cutoff
from miyun.referrals.runtime import runtime_for
from miyun.settings import Settings
from miyun.staff.store import StaffStore

LIMITS_KEEP_S = 24 * 3600   # the longest window a limit looks back (status lock: 24 h)


def retention_days(cfg: Settings) -> Optional[int]:
    """The published `referrals.yml › retention_days`, or None when content was never published."""
    try:
        days = (ContentStore(cfg.content_db).setting("referrals") or {}).get("retention_days")
    except ContentUnavailable:
        return None
    return days if isinstance(days, int) and days > 0 else None


def open_trackers(cfg: Settings) -> Any:
    """Rasa's tracker store the settings name (the endpoints.yml variables), with the redaction helpers."""
    from miyun.privacy.tracker_store import RedactingTrackerStore  # imports rasa: only when asked for

    db = cfg.tracker_db or str(cfg.var_dir / "trackers.db")
    return RedactingTrackerStore(domain=None, dialect=cfg.tracker_dialect, host=cfg.tracker_host or None, db=db,
                                 username=cfg.tracker_user or None, password=cfg.tracker_password or None)


def run(cfg: Settings, days: int, actor: str, now: Optional[dt.datetime] = None, trackers: bool = True) -> dict:
    """Apply the retention period everywhere personal data is kept; returns what was done, by store."""
    now = now or dt.datetime.now().astimezone()
    cutoff = retention_cutoff(days, now)
    limits_before = now.timestamp() - LIMITS_KEEP_S
    runtime = runtime_for(cfg)
    report: dict[str, Any] = {"days": days, "cutoff": cutoff}
    report["referrals_anonymized"] = runtime.anonymize_older_than(cutoff, actor)
    report.update(runtime.expire(cutoff, limits_before))
    report.update(StaffStore(cfg.runtime_db).prune(limits_before))
    if trackers:
        store = open_trackers(cfg)
        report["tracker_events_redacted"] = store.redact_all()
        # The exact instant, not the cutoff string (whole seconds): `--days 0` means everything said so far.
        expired = store.expire_older_than((now - dt.timedelta(days=days)).timestamp())
        report["conversations_expired"] = expired["conversations"]
        report["old_session_events_deleted"] = expired["old_session_events"]
    return report
