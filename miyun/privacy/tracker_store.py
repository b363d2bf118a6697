"""Rasa's SQL tracker store (SQLite or PostgreSQL) with the personal data of finished flows redacted.

endpoints.yml names it (`type: miyun.privacy.tracker_store.RedactingTrackerStore`); it takes the same
keys as Rasa's `type: SQL`. Rasa appends a turn's events on save; when that turn finished a flow that
collected personal data (`miyun.privacy.redact.FLOWS`), the stored events of the conversation are
rewritten in place. Rows are never added or removed here, so Rasa's count of stored events (how it
finds what to append next) stays right and the conversation continues normally.

Also the retention run's access to conversations: `expire_older_than` and `redact_all`.
"""
from __future__ import annotations

import json
import logging
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from miyun.privacy.redact import END_ACTIONS, redact_events

log = logging.getLogger(__name__)


def _turn_closes_a_flow(tracker: DialogueStateTracker) -> bool:
    """`redact.closes_a_flow` on the event objects: only the events after the last user message are looked at."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, ActionExecuted) and event.action_name in END_ACTIONS:
            return True
    return False


class RedactingTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` that blanks a finished referral, callback or status check in the stored history."""

    async def save(self, tracker: DialogueStateTracker) -> None:
        await super().save(tracker)
        if _turn_closes_a_flow(tracker):
            n = self.redact(tracker.sender_id)
            log.debug("redacted %d events of a finished flow", n)

    def redact(self, sender_id: str) -> int:
        """Rewrite this conversation's stored events that still hold personal data; returns how many."""
        with self.session_scope() as session:
            rows = (session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == sender_id)
                    .order_by(self.SQLEvent.id).all())
            changes = redact_events([json.loads(r.data) for r in rows])
            for i, event in changes.items():
                rows[i].data = json.dumps(event)
            session.commit()
            return len(changes)

    def redact_all(self) -> int:
        """Every conversation that finished a flow (a sweep for history stored before this store was used)."""
        with self.session_scope() as session:
            senders = [s for (s,) in session.query(self.SQLEvent.sender_id).filter(
                self.SQLEvent.type_name == "action", self.SQLEvent.action_name.in_(sorted(END_ACTIONS))).distinct()]
        return sum(self.redact(s) for s in senders)

    def expire_older_than(self, cutoff_ts: float) -> dict[str, Any]:
        """Delete conversations silent since before the cutoff, and earlier sessions' events older than it.

        The latest session of a live conversation is what Rasa reloads and counts; it is never touched.
        """
        with self.session_scope() as session:
            stale = session.execute(sa.text(
                "select sender_id from events group by sender_id having max(timestamp) < :cutoff"),
                {"cutoff": cutoff_ts}).scalars().all()
            conversations = 0
            for i in range(0, len(stale), 500):
                chunk = stale[i:i + 500]
                session.query(self.SQLEvent).filter(self.SQLEvent.sender_id.in_(chunk)).delete(synchronize_session=False)
                conversations += len(chunk)
            old_sessions = session.execute(sa.text(
                "delete from events where timestamp < :cutoff and timestamp < ("
                " select max(s.timestamp) from events s where s.sender_id = events.sender_id"
                " and s.type_name = 'session_started')"), {"cutoff": cutoff_ts}).rowcount
            session.commit()
        return {"conversations": conversations, "old_session_events": old_sessions}
