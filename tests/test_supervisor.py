"""The cluster supervisor's restart and back-off rules (scripts/supervisor.py), with fake processes and a fake clock."""
from __future__ import annotations

from typing import Optional

from scripts.supervisor import STATEFUL, STATELESS, Policy, Supervisor, Unit


class FakeProc:
    def __init__(self) -> None:
        self.returncode: Optional[int] = None

    def poll(self) -> Optional[int]:
        return self.returncode

    def die(self, code: int = -9) -> None:
        self.returncode = code


class FakeServer:
    def __init__(self) -> None:
        self.proc = FakeProc()
        self.up = False
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True
        self.proc.die(-15)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Fleet:
    """Units whose spawn records every start; `fail_next` makes the next starts die at once."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.spawned: dict[str, list[FakeServer]] = {}
        self.fail_next: dict[str, int] = {}

    def unit(self, name: str, policy: Policy = STATELESS) -> Unit:
        first = FakeServer()
        first.up = True
        self.spawned[name] = [first]

        def spawn() -> FakeServer:
            server = FakeServer()
            if self.fail_next.get(name, 0) > 0:
                self.fail_next[name] -= 1
                server.proc.die(1)
            self.spawned[name].append(server)
            return server

        return Unit(name, spawn, lambda s: s.up, policy, server=first)

    def supervisor(self, *units: Unit) -> Supervisor:
        self.lines: list[str] = []
        return Supervisor(list(units), clock=self.clock, log=self.lines.append)

    def run(self, sup: Supervisor, seconds: float, step: float = 0.5) -> None:
        end = self.clock.t + seconds
        while self.clock.t < end:
            self.clock.t += step
            sup.check()


def test_a_dead_replica_is_restarted_and_the_others_keep_running():
    fleet = Fleet()
    rasa = [fleet.unit(f"rasa-{i}") for i in (1, 2, 3)]
    pg = fleet.unit("postgres", STATEFUL)
    sup = fleet.supervisor(pg, *rasa)
    fleet.spawned["rasa-2"][0].proc.die(-9)
    sup.check()
    assert rasa[1].state == "waiting"
    fleet.run(sup, 1.0)                                   # the first back-off is 1 s
    assert rasa[1].state == "starting" and len(fleet.spawned["rasa-2"]) == 2
    fleet.spawned["rasa-2"][1].up = True                  # the model is loaded
    fleet.run(sup, 0.5)
    assert rasa[1].state == "running" and rasa[1].server is fleet.spawned["rasa-2"][1]
    assert sup.fatal is None
    for name in ("rasa-1", "rasa-3", "postgres"):         # nothing else was touched
        assert len(fleet.spawned[name]) == 1 and not fleet.spawned[name][0].stopped


def test_back_off_doubles_while_restarts_fail_and_resets_after_a_healthy_run():
    fleet = Fleet()
    unit = fleet.unit("actions-1", Policy(backoff_initial=1, backoff_max=8, healthy_after=60))
    sup = fleet.supervisor(unit)
    fleet.fail_next["actions-1"] = 5                      # the next 5 starts die at once
    fleet.spawned["actions-1"][0].proc.die()
    starts: list[float] = []
    t0 = fleet.clock.t
    for _ in range(400):                                  # 200 s, until a start survives
        fleet.clock.t += 0.5
        before = len(fleet.spawned["actions-1"])
        sup.check()
        if len(fleet.spawned["actions-1"]) > before:
            starts.append(fleet.clock.t - t0)
        if len(starts) == 6:
            break
    gaps = [b - a for a, b in zip([0.0] + starts, starts)]
    # each death or failed start is seen on the next pass (0.5 s), then waits 1, 2, 4, 8, 8 (capped), 8 s
    assert gaps == [1.5, 2.5, 4.5, 8.5, 8.5, 8.5]
    assert sup.fatal is None                              # stateless: never gives up
    fleet.spawned["actions-1"][-1].up = True
    fleet.run(sup, 61)                                    # healthy for a minute
    fleet.spawned["actions-1"][-1].proc.die()
    sup.check()
    assert unit.next_start - fleet.clock.t == 1.0         # back to the first step


def test_a_start_that_never_gets_ready_is_killed_and_retried():
    fleet = Fleet()
    unit = fleet.unit("rasa-1", Policy(start_timeout=10))
    sup = fleet.supervisor(unit)
    fleet.spawned["rasa-1"][0].proc.die()
    fleet.run(sup, 1.5)
    hung = fleet.spawned["rasa-1"][1]
    fleet.run(sup, 10.5)
    assert hung.stopped and unit.state in ("waiting", "starting")
    fleet.run(sup, 3)
    assert len(fleet.spawned["rasa-1"]) == 3


def test_a_stateful_part_that_cannot_be_restarted_stops_everything():
    fleet = Fleet()
    redis = fleet.unit("redis", STATEFUL)
    rasa = fleet.unit("rasa-1")
    sup = fleet.supervisor(redis, rasa)
    fleet.fail_next["redis"] = 99
    fleet.spawned["redis"][0].proc.die()
    fleet.run(sup, 60)
    assert sup.fatal and "redis" in sup.fatal
    assert len(fleet.spawned["redis"]) == 1 + STATEFUL.max_attempts
    assert rasa.state == "running"


def test_a_stateful_part_that_comes_back_is_not_fatal():
    fleet = Fleet()
    pg = fleet.unit("postgres", STATEFUL)
    sup = fleet.supervisor(pg)
    fleet.fail_next["postgres"] = 1                       # the first restart fails, the second works
    fleet.spawned["postgres"][0].proc.die()
    fleet.run(sup, 4)
    fleet.spawned["postgres"][-1].up = True
    fleet.run(sup, 1)
    assert pg.state == "running" and sup.fatal is None


def test_a_held_unit_is_left_down_until_released_and_nothing_restarts_after_shutdown():
    fleet = Fleet()
    redis = fleet.unit("redis", STATEFUL)
    rasa = fleet.unit("rasa-1")
    sup = fleet.supervisor(redis, rasa)
    sup.hold("redis")
    fleet.spawned["redis"][0].proc.die(0)
    fleet.run(sup, 10)
    assert len(fleet.spawned["redis"]) == 1 and sup.fatal is None
    again = FakeServer()
    again.up = True
    sup.release("redis", again)
    fleet.run(sup, 1)
    assert redis.state == "running"
    sup.shutdown()
    fleet.spawned["rasa-1"][0].proc.die()
    fleet.run(sup, 10)
    assert len(fleet.spawned["rasa-1"]) == 1
