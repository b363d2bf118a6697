"""Rasa's Redis lock store, fixed for failover: `MIYUN_LOCK_STORE=miyun.locks.RedisTicketLockStore`.

Rasa 3.6 (`rasa/core/lock_store.py`, `rasa/core/lock.py`) orders one conversation's messages with a
ticket queue in one Redis key. When a replica dies holding a conversation's ticket, the resent
message waits on another replica for that ticket to expire. Three gaps make that fail:

1. The waiting ticket expires too: it got the same lifetime when it was issued, so when both expire
   between two 1-s polls, `now_serving` falls back to 0, the waiter's number is never served and it
   waits until the client gives up (the "first-try errors" of `make bench-cluster`).
2. Every change is a read-modify-write of the key (GET … SET), so two replicas issuing or releasing
   at once can lose each other's ticket, or delete the lock someone has just joined.
3. A ticket's lifetime is the longest a turn may take, so it must be long (Rasa: 60 s) and a dead
   replica blocks its conversations that long.

Here a ticket is a lease: its holder or waiter renews it every `lease_s / 6` while it is alive, so it
expires `lease_s` after its replica died, whatever the turn's length (`TICKET_LOCK_LIFETIME`, which
Rasa passes as `lock_lifetime`, still caps how long one turn may keep the lock). A waiter whose ticket
was dropped anyway (its event loop stalled) puts it back at the end. Ticket numbers come from a
Redis counter (never reused), and every change runs in a WATCH/MULTI transaction. The key layout is
Rasa's, but all replicas must use this class: mixed with the stock store the numbering differs.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Callable, Optional, Text

from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore

logger = logging.getLogger(__name__)

LEASE_S = 3.0          # a ticket outlives its replica by at most this
POLL_S = 0.1           # how often a waiter looks whether its turn has come
COUNTER_TTL_S = 86400  # the ticket counter of an idle conversation is dropped after a day
REDIS_KWARGS = ("port", "db", "username", "password", "use_ssl", "ssl_certfile", "ssl_keyfile", "ssl_ca_certs",
                "key_prefix", "socket_timeout")


class RedisTicketLockStore(RedisLockStore):
    """Drop-in for Rasa's `RedisLockStore` (endpoints.yml `type: miyun.locks.RedisTicketLockStore`)."""

    def __init__(self, endpoint_config: Any = None, host: Text = "localhost", lease_s: float = LEASE_S,
                 poll_s: float = POLL_S, **kwargs: Any) -> None:
        if endpoint_config is not None:   # how Rasa builds a lock store named by module path
            host = endpoint_config.url or host
            kwargs = {**endpoint_config.kwargs, **kwargs}
            lease_s = float(kwargs.pop("lease_s", lease_s))
            poll_s = float(kwargs.pop("poll_s", poll_s))
        given = {k: v for k, v in kwargs.items() if k in REDIS_KWARGS and v not in (None, "")}
        super().__init__(host=host, **given)
        self.lease_s, self.poll_s = float(lease_s), float(poll_s)

    # ------------------------------------------------------------------ atomic changes of one lock

    def _key(self, conversation_id: Text) -> Text:
        return self.key_prefix + conversation_id

    def _change(self, conversation_id: Text, change: Callable[[TicketLock], Any]) -> Any:
        """Read the lock, apply `change`, write it back (or delete it when no ticket is left), atomically."""
        key = self._key(conversation_id)
        result: list = []

        def transaction(pipe) -> None:
            raw = pipe.get(key)
            lock = TicketLock.from_dict(json.loads(raw)) if raw else TicketLock(conversation_id)
            result[:] = [change(lock)]
            pipe.multi()
            if lock.tickets:
                pipe.set(key, lock.dumps())
            else:
                pipe.delete(key)

        self.red.transaction(transaction, key)
        return result[0]

    def _counter(self, conversation_id: Text) -> int:
        key = self.key_prefix + "seq:" + conversation_id
        pipe = self.red.pipeline()
        pipe.incr(key)
        pipe.expire(key, COUNTER_TTL_S)
        return int(pipe.execute()[0])

    @staticmethod
    def _drop_expired(lock: TicketLock) -> None:
        now = time.time()
        lock.tickets = type(lock.tickets)(t for t in lock.tickets if t.expires >= now)

    def _renew(self, lock: TicketLock, number: int) -> bool:
        """Renew (or put back) ticket `number`; True when it is first in the queue.

        A ticket dropped while its owner was alive (its event loop stalled for a whole lease) goes
        back at the end, not in its old place: whoever is first may already be running its turn.
        """
        self._drop_expired(lock)
        expires = time.time() + self.lease_s
        mine = next((t for t in lock.tickets if t.number == number), None)
        if mine is None:
            lock.tickets.append(Ticket(number, expires))
        else:
            mine.expires = expires
        return lock.tickets[0].number == number

    # ------------------------------------------------------------------ Rasa's LockStore interface

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            number = self._counter(conversation_id)

            def add(lock: TicketLock) -> None:
                self._drop_expired(lock)
                lock.tickets.append(Ticket(number, time.time() + self.lease_s))

            self._change(conversation_id, add)
            return number
        except Exception as exc:  # noqa: BLE001 - Rasa expects a LockError (it answers without processing)
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc

    def renew(self, conversation_id: Text, ticket: int) -> bool:
        """Keep `ticket` alive; True when it now holds the lock."""
        return self._change(conversation_id, lambda lock: self._renew(lock, ticket))

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        def remove(lock: TicketLock) -> None:
            self._drop_expired(lock)
            lock.tickets = type(lock.tickets)(t for t in lock.tickets if t.number != ticket_number)

        self._change(conversation_id, remove)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Remove the ticket; the key goes with the last ticket, in the same transaction."""
        try:
            self.finish_serving(conversation_id, ticket_number)
        except Exception as exc:  # noqa: BLE001 - Redis gone: the lease expires by itself
            logger.warning(f"Could not release the lock of '{conversation_id}': {exc}")

    def update_lock(self, conversation_id: Text) -> None:
        self._change(conversation_id, self._drop_expired)

    @asynccontextmanager
    async def lock(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME,
                   wait_time_in_seconds: float = 1) -> AsyncGenerator[TicketLock, None]:
        """Wait for this conversation's turn, hold it while the body runs, renewing the lease meanwhile.

        `lock_lifetime` bounds both the wait and the hold (Rasa's meaning of it); `wait_time_in_seconds`
        is ignored for `poll_s`: with leases a short poll is what makes failover quick.
        """
        ticket = self.issue_ticket(conversation_id, lock_lifetime)
        keeper: Optional[asyncio.Task] = None
        try:
            lock = await self._acquire_lock(conversation_id, ticket, self.poll_s, max_wait=max(lock_lifetime, self.lease_s) * 2)
            keeper = asyncio.ensure_future(self._keep(conversation_id, ticket, until=time.monotonic() + lock_lifetime))
            yield lock
        finally:
            if keeper:
                keeper.cancel()
            self.cleanup(conversation_id, ticket)

    async def _acquire_lock(self, conversation_id: Text, ticket: int, wait_time_in_seconds: float,
                            max_wait: float = 2 * LOCK_LIFETIME) -> TicketLock:
        deadline = time.monotonic() + max_wait
        while True:
            try:
                first = self.renew(conversation_id, ticket)
            except Exception as exc:  # noqa: BLE001
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}': {exc}") from exc
            if first:
                logger.debug(f"Acquired lock for conversation '{conversation_id}'.")
                return self.get_lock(conversation_id) or TicketLock(conversation_id)
            if time.monotonic() > deadline:
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}' in {max_wait:.0f} s.")
            await asyncio.sleep(wait_time_in_seconds)

    async def _keep(self, conversation_id: Text, ticket: int, until: float) -> None:
        """The holder's lease renewal; stops at `until` (a turn that long lets the next one in)."""
        while time.monotonic() < until:
            await asyncio.sleep(self.lease_s / 6)
            try:
                self.renew(conversation_id, ticket)
            except Exception as exc:  # noqa: BLE001 - Redis gone: nothing to renew against
                logger.debug(f"lease renewal for '{conversation_id}' failed: {exc}")
