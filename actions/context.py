"""Process-wide access to the stores, created on first use (never at import)."""
from __future__ import annotations

import functools
import hashlib
from typing import Any, Callable, Dict, Optional, Text

from miyun import settings as settings_mod
from miyun.knowledge.store import ContentStore
from miyun.referrals.runtime import runtime_for
from miyun.referrals.store import Runtime
from miyun.text import load_dictionary


@functools.lru_cache(maxsize=1)
def settings() -> settings_mod.Settings:
    return settings_mod.load()


@functools.lru_cache(maxsize=1)
def content() -> ContentStore:
    load_dictionary(settings().dictionary_dir)
    return ContentStore(settings().content_db)


@functools.lru_cache(maxsize=1)
def runtime() -> Runtime:
    """SQLite var/runtime.db by default; PostgreSQL when MIYUN_RUNTIME_DSN names one (a cluster)."""
    return runtime_for(settings())


@functools.lru_cache(maxsize=1)
def salt() -> str:
    """MIYUN_LOG_SALT, or the install's generated one (never a fixed value; production refuses without)."""
    return settings_mod.log_salt(settings().var_dir)


def reset() -> None:
    """Forget cached settings and stores (tests change the environment)."""
    for cached in (settings, content, runtime, salt):
        cached.cache_clear()


def sender_hash(sender_id: Optional[Text]) -> Optional[str]:
    """A salted hash, so logs and tables never hold a raw WeChat or Telegram id."""
    if not sender_id:
        return None
    return hashlib.sha256(f"{salt()}:{sender_id}".encode()).hexdigest()[:16]


def latest_entity(tracker: Any, entity: str) -> Optional[str]:
    """The entity from the latest message only: a town said three turns ago is stale."""
    return next(tracker.get_latest_entity_values(entity), None)


def ignore_empty(validator: Callable) -> Callable:
    """Skip a form validator when the slot was merely cleared (rasa-sdk validates every slot set)."""
    slot = validator.__name__[len("validate_"):]

    @functools.wraps(validator)
    def wrapper(self: Any, value: Any, *args: Any, **kwargs: Any) -> Dict[str, Any]:
        if value is None or (isinstance(value, str) and not value.strip()):
            return {slot: None}
        return validator(self, value, *args, **kwargs)

    return wrapper
