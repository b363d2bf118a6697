"""The redacting tracker store on both SQL dialects Rasa uses here: SQLite (embedded) and PostgreSQL
(the cluster; a throwaway server, the same `pg_dsn` fixture as the runtime-store contract)."""
from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest

from tests.test_privacy import PHONE, _referral_events

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def domain():
    from rasa.shared.core.domain import Domain

    return Domain.load(str(ROOT / "domain"))


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path, domain):
    from miyun.privacy.tracker_store import RedactingTrackerStore

    if request.param == "sqlite":
        yield RedactingTrackerStore(domain=domain, dialect="sqlite", db=str(tmp_path / "trackers.db"))
        return
    dsn = urllib.parse.urlparse(request.getfixturevalue("pg_dsn"))
    s = RedactingTrackerStore(domain=domain, dialect="postgresql", host=f"{dsn.hostname}:{dsn.port}",
                              db=dsn.path.lstrip("/"), username=dsn.username, password=dsn.password)
    yield s
    with s.session_scope() as session:
        session.query(s.SQLEvent).filter(s.SQLEvent.sender_id.like("pytest-%")).delete(synchronize_session=False)
        session.commit()


def _stored(store, sender):
    with store.session_scope() as session:
        return [r.data for r in session.query(store.SQLEvent).filter(store.SQLEvent.sender_id == sender)
                .order_by(store.SQLEvent.id)]


def _tracker(domain, sender, events):
    from rasa.shared.core.trackers import DialogueStateTracker

    now = time.time()
    stamped = [{**e, "timestamp": now + i / 1000} for i, e in enumerate(events)]
    return DialogueStateTracker.from_dict(sender, stamped, domain.slots)


def test_a_finished_referral_is_redacted_and_the_conversation_continues(store, domain):
    from rasa.shared.core.events import UserUttered

    sender = f"pytest-{uuid.uuid4().hex[:8]}"
    events = _referral_events()
    mid = len(events) - 6
    asyncio.run(store.save(_tracker(domain, sender, events[:mid])))       # mid-form: kept as typed
    assert any(PHONE in d for d in _stored(store, sender))
    asyncio.run(store.save(_tracker(domain, sender, events)))             # the turn that submits
    rows = _stored(store, sender)
    assert len(rows) == len(events) and not any(PHONE in d or "5678" in d for d in rows)
    assert not any("宅基地吵架" in json.dumps(json.loads(d), ensure_ascii=False) for d in rows)
    # Rasa reloads the conversation and appends the next turn after the stored (rewritten) events
    tracker = asyncio.run(store.retrieve(sender))
    assert tracker is not None and tracker.get_slot("phone") is None
    tracker.update(UserUttered("12348是免费的吗", {"name": "ask_hotline", "confidence": 1.0}))
    asyncio.run(store.save(tracker))
    rows = _stored(store, sender)
    assert len(rows) == len(events) + 1 and "12348" in json.loads(rows[-1])["text"]


def test_expiry_deletes_silent_conversations_only(store, domain):
    old, live = f"pytest-old-{uuid.uuid4().hex[:6]}", f"pytest-live-{uuid.uuid4().hex[:6]}"
    asyncio.run(store.save(_tracker(domain, old, _referral_events()[:8])))
    asyncio.run(store.save(_tracker(domain, live, _referral_events()[:4])))
    with store.session_scope() as session:
        session.query(store.SQLEvent).filter(store.SQLEvent.sender_id == old).update({"timestamp": 1000.0})
        session.commit()
    report = store.expire_older_than(time.time() - 3600)
    assert report["conversations"] >= 1
    assert _stored(store, old) == [] and len(_stored(store, live)) == 4
