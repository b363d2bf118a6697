"""Keep a set of processes running: restart what dies, with back-off, and say when to give up.

Used by `make run-cluster` and `make bench-cluster` (scripts/cluster.py). The logic knows nothing
about Rasa or PostgreSQL: each `Unit` is a name, a function that spawns it (without waiting), a
probe that says whether it is ready, and a policy. Time comes from an injectable clock, so the
restart and back-off rules are tested with fake processes (tests/test_supervisor.py).

- A stateless unit (Rasa replica, action server, gateway, nginx) is restarted for ever, after
  1, 2, 4 … `backoff_max` seconds; the delay resets once it has been ready for `healthy_after` s.
- A stateful unit (PostgreSQL, Redis) gets `max_attempts` restarts in a row; when none comes up,
  `fatal` is set and the caller stops everything (data must not be served half-way).
- A held unit (stopped on purpose, e.g. the bench's Redis outage) is left alone until released.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol


class Proc(Protocol):
    returncode: Optional[int]

    def poll(self) -> Optional[int]: ...


@dataclass(frozen=True)
class Policy:
    stateful: bool = False
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    healthy_after: float = 60.0     # ready this long → the next crash starts the back-off again at 1 s
    start_timeout: float = 240.0    # spawned but not ready after this → a failed start
    max_attempts: int = 3           # stateful only: failed restarts in a row before giving up


STATELESS = Policy()
STATEFUL = Policy(stateful=True, backoff_max=5.0, start_timeout=60.0)


@dataclass
class Unit:
    name: str
    spawn: Callable[[], Any]                 # starts it, returns an object with .proc (a Popen) — must not block
    ready: Callable[[Any], bool]             # a quick probe of what spawn returned
    policy: Policy = STATELESS
    server: Any = None                       # what spawn returned last
    state: str = "running"                   # running | waiting | starting | held | failed
    failures: int = 0                        # deaths / failed starts since it was last healthy
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = 0.0
    ready_at: Optional[float] = None
    history: list = field(default_factory=list)   # (time, event, detail) for reports and tests


class Supervisor:
    """Call `check()` every fraction of a second (or `run()` it in its own thread)."""

    def __init__(self, units: list[Unit], clock: Callable[[], float] = time.monotonic,
                 log: Callable[[str], None] = print) -> None:
        self.units = {u.name: u for u in units}
        self.clock, self.log = clock, log
        self.fatal: Optional[str] = None
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        now = clock()
        for u in units:
            u.started_at = now
            u.ready_at = now if u.state == "running" else None

    # ------------------------------------------------------------------ the rules

    def backoff(self, unit: Unit) -> float:
        p = unit.policy
        return min(p.backoff_max, p.backoff_initial * 2 ** max(0, unit.failures - 1))

    def _event(self, unit: Unit, event: str, detail: str = "") -> None:
        unit.history.append((self.clock(), event, detail))
        self.log(f"{'✗' if event in ('died', 'start failed', 'gave up') else '·'} {unit.name} {event}"
                 + (f" ({detail})" if detail else ""))

    def _failed(self, unit: Unit, now: float, what: str, detail: str) -> None:
        unit.failures += 1
        if unit.policy.stateful and unit.failures > unit.policy.max_attempts:
            unit.state = "failed"
            self.fatal = f"{unit.name} could not be restarted ({unit.policy.max_attempts} attempts)"
            self._event(unit, "gave up", self.fatal)
            return
        unit.state = "waiting"
        unit.next_start = now + self.backoff(unit)
        self._event(unit, what, f"{detail}; restart in {unit.next_start - now:.0f} s")

    def check(self) -> None:
        """One pass over every unit; never blocks on a slow start."""
        with self._lock:
            if self._stopping.is_set() or self.fatal:
                return
            now = self.clock()
            for unit in self.units.values():
                if self.fatal:
                    return
                self._check_unit(unit, now)

    def _check_unit(self, unit: Unit, now: float) -> None:
        proc = getattr(unit.server, "proc", None)
        if unit.state == "running":
            if proc is not None and proc.poll() is not None:
                healthy = unit.ready_at is not None and now - unit.ready_at >= unit.policy.healthy_after
                if healthy:
                    unit.failures = 0
                self._failed(unit, now, "died", f"exit {proc.returncode}")
        elif unit.state == "waiting":
            if now >= unit.next_start:
                unit.restarts += 1
                unit.started_at, unit.ready_at = now, None
                try:
                    unit.server = unit.spawn()
                except Exception as exc:  # noqa: BLE001 - a failed start is a failure like any other
                    self._failed(unit, now, "start failed", str(exc)[:200])
                    return
                unit.state = "starting"
                self._event(unit, "restarting", f"attempt {unit.failures}")
        elif unit.state == "starting":
            if proc is not None and proc.poll() is not None:
                self._failed(unit, now, "start failed", f"exit {proc.returncode}")
            elif self._probe(unit):
                unit.state, unit.ready_at = "running", now
                self._event(unit, "back", f"ready {now - unit.started_at:.1f} s after restart")
            elif now - unit.started_at > unit.policy.start_timeout:
                self._kill(unit)
                self._failed(unit, now, "start failed", f"not ready after {unit.policy.start_timeout:.0f} s")

    def _probe(self, unit: Unit) -> bool:
        try:
            return bool(unit.ready(unit.server))
        except Exception:  # noqa: BLE001 - not ready yet
            return False

    @staticmethod
    def _kill(unit: Unit) -> None:
        stop = getattr(unit.server, "stop", None)
        if stop:
            try:
                stop()
            except Exception:  # noqa: BLE001
                pass

    # ------------------------------------------------------------------ control

    def hold(self, name: str) -> Unit:
        """Leave `name` alone (it is being stopped on purpose) until `release`."""
        with self._lock:
            unit = self.units[name]
            unit.state = "held"
            return unit

    def release(self, name: str, server: Any) -> None:
        """`name` was started again by the caller (already ready): supervise it again."""
        with self._lock:
            unit = self.units[name]
            unit.server, unit.state = server, "running"
            unit.started_at = unit.ready_at = self.clock()

    def shutdown(self) -> None:
        """No more restarts from now on (waits for a restart in progress to finish spawning)."""
        self._stopping.set()
        with self._lock:
            pass

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def run(self, interval: float = 0.5, on_fatal: Optional[Callable[[str], None]] = None) -> None:
        """Loop until `shutdown()` or a fatal failure (then `on_fatal(reason)`)."""
        while not self._stopping.is_set():
            self.check()
            if self.fatal:
                if on_fatal:
                    on_fatal(self.fatal)
                return
            self._stopping.wait(interval)
