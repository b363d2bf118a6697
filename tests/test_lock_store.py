"""The cluster's lock store (miyun/locks.py) against a real, throwaway redis-server.

The first case is Rasa 3.6's own failover bug, reproduced with the stock RedisLockStore: a replica
dies holding a conversation's ticket, the resent message's ticket is issued less than one poll
later, both expire between two polls, and the waiter is never served.
"""
from __future__ import annotations

import asyncio
import shutil
import threading
import time
from pathlib import Path

import pytest

from scripts import servers

redis = pytest.importorskip("redis")
from rasa.core.lock_store import LockStore, RedisLockStore  # noqa: E402
from rasa.utils.endpoints import EndpointConfig  # noqa: E402

from miyun.locks import RedisTicketLockStore  # noqa: E402

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory: pytest.TempPathFactory):
    """A private redis-server on a free loopback port, no persistence, stopped after the module."""
    if not Path(REDIS).exists():
        pytest.skip("redis-server is not installed (scripts/cluster_setup.sh installs it)")
    base = tmp_path_factory.mktemp("redis")
    port = servers.free_port()
    proc = servers.spawn("redis", [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", str(base)], {}, base / "redis.log")
    server = servers.Server("redis", f"127.0.0.1:{port}", "", proc, base / "redis.log")
    client = redis.StrictRedis(port=port)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail(f"redis-server did not start: {(base / 'redis.log').read_text(errors='replace')}")
            time.sleep(0.05)
    yield port
    server.stop()


def fixed(port: int, lease_s: float = 1.0) -> RedisTicketLockStore:
    return RedisTicketLockStore(host="127.0.0.1", port=port, db=3, lease_s=lease_s, poll_s=0.05)


def stock(port: int) -> RedisLockStore:
    return RedisLockStore(host="127.0.0.1", port=port, db=3)


async def failover(store: LockStore, conversation: str, lifetime: float = 1.0) -> float:
    """A replica takes the conversation's ticket and dies; 0.3 s later the resent message arrives.

    Returns the seconds until the resent message's turn comes (raises TimeoutError when never).
    """
    store.issue_ticket(conversation, lifetime)          # the dead replica's ticket: never released
    await asyncio.sleep(0.3)
    t0 = time.monotonic()
    async with store.lock(conversation, lock_lifetime=lifetime, wait_time_in_seconds=1):
        return time.monotonic() - t0


def test_stock_rasa_store_never_serves_the_resent_message(redis_port):
    """The bug, as Rasa 3.6 has it: both tickets expire between two 1-s polls (documents it; fails if Rasa fixes it)."""
    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(asyncio.wait_for(failover(stock(redis_port), "stock-failover"), timeout=4))


def test_the_resent_message_is_served_once_the_dead_replicas_lease_ends(redis_port):
    waited = asyncio.run(asyncio.wait_for(failover(fixed(redis_port, lease_s=1.0), "fixed-failover"), timeout=4))
    assert 0.4 < waited < 1.5       # the dead ticket expires 1 s after issue, 0.7 s into the wait


def test_the_lock_is_deleted_with_its_last_ticket(redis_port):
    store = fixed(redis_port)

    async def one() -> None:
        async with store.lock("gone-after"):
            assert store.red.exists(store.key_prefix + "gone-after")

    asyncio.run(one())
    assert not store.red.exists(store.key_prefix + "gone-after")


def test_simultaneous_tickets_are_unique_and_none_is_lost(redis_port):
    """Two replicas issuing at once: Rasa's GET … SET would lose one; the transaction keeps all."""
    stores = [fixed(redis_port), fixed(redis_port)]
    numbers: list[int] = []
    start = threading.Barrier(20)

    def issue(k: int) -> None:
        start.wait()
        numbers.append(stores[k % 2].issue_ticket("busy", 30))

    threads = [threading.Thread(target=issue, args=(k,)) for k in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(numbers)) == 20
    assert sorted(t.number for t in stores[0].get_lock("busy").tickets) == sorted(numbers)


def test_two_replicas_serve_one_conversation_in_order_one_at_a_time(redis_port):
    replicas = [fixed(redis_port), fixed(redis_port)]
    events: list[tuple[str, int]] = []

    async def message(k: int) -> None:
        await asyncio.sleep(k * 0.02)                    # sent in this order
        async with replicas[k % 2].lock("ordered", lock_lifetime=10):
            events.append(("in", k))
            await asyncio.sleep(0.05)
            events.append(("out", k))

    async def all_of_them() -> None:
        await asyncio.gather(*(message(k) for k in range(6)))

    asyncio.run(all_of_them())
    assert events == [(what, k) for k in range(6) for what in ("in", "out")]


def test_a_long_turn_keeps_its_lock_beyond_one_lease(redis_port):
    """The holder renews its lease: a turn longer than the lease still excludes the next message."""
    a, b = fixed(redis_port, lease_s=0.6), fixed(redis_port, lease_s=0.6)
    events: list[str] = []

    async def long_turn() -> None:
        async with a.lock("long", lock_lifetime=10):
            events.append("long in")
            await asyncio.sleep(2.0)
            events.append("long out")

    async def next_message() -> None:
        await asyncio.sleep(0.2)
        async with b.lock("long", lock_lifetime=10):
            events.append("next in")

    async def both() -> None:
        await asyncio.gather(long_turn(), next_message())

    asyncio.run(both())
    assert events == ["long in", "long out", "next in"]


def test_rasa_builds_it_from_endpoints_yml(redis_port):
    """endpoints.yml names it by module path; Rasa passes the endpoint config (empty password = none)."""
    config = EndpointConfig(url="127.0.0.1", type="miyun.locks.RedisTicketLockStore", port=str(redis_port),
                            db="3", password="")
    store = LockStore.create(config)
    assert isinstance(store, RedisTicketLockStore)
    number = store.issue_ticket("from-config", 5)
    assert store.renew("from-config", number) is True
    store.cleanup("from-config", number)
    assert store.get_lock("from-config") is None
