"""`make run` stops everything it started, however it is stopped (scripts/run_all.py, scripts/servers.py).

Four real `make run`s (free ports, a private var dir) start together; each test stops one its own
way and then requires that no process of that run is left and no port of it is open:
SIGTERM to the process group (a service manager, `kill`), SIGHUP (the terminal closed),
`make run | tee` where tee dies first on Ctrl-C (the shutdown message hits a broken pipe), and
SIGKILL of the Python supervisor itself (only PR_SET_PDEATHSIG can stop the children then).
"""
from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from scripts import servers

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("sigterm", "sighup", "tee", "sigkill")
MARK = "MIYUN_TEST_RUN_MARK"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; PDEATHSIG is Linux-only")


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def marked(mark: str) -> dict[int, str]:
    """pid → command line of every live process carrying this run's environment marker."""
    found = {}
    needle = f"{MARK}={mark}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if needle not in fh.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue                      # a zombie is already dead
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                found[int(entry)] = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            pass
    return found


class Run:
    def __init__(self, kind: str, base: Path) -> None:
        self.kind, self.base = kind, base
        self.mark = uuid.uuid4().hex
        self.ports = {"MIYUN_ACTION_PORT": servers.free_port(), "MIYUN_RASA_PORT": servers.free_port(),
                      "MIYUN_GATEWAY_PORT": servers.free_port()}
        var = base / "var"
        env = {**os.environ, MARK: self.mark, **{k: str(v) for k, v in self.ports.items()},
               "MIYUN_VAR_DIR": str(var), "MIYUN_TRACKER_DB": str(var / "trackers.db")}
        make = f"make --no-print-directory -C {shlex.quote(str(ROOT))} run"
        cmd = ["bash", "-c", f"{make} | tee {shlex.quote(str(base / 'tee.log'))}"] if kind == "tee" else shlex.split(make)
        self.out = base / "run.log"
        with open(self.out, "wb") as out:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env,
                                         start_new_session=True)

    def wait_ready(self, timeout: float = 420) -> None:
        deadline = time.monotonic() + timeout
        while not all(port_open(p) for p in self.ports.values()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"make run ({self.kind}) did not start:\n{self.out.read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)

    def gone(self, timeout: float = 90) -> tuple[dict[int, str], list[int]]:
        """Wait until nothing of this run is left; returns what is (processes, open ports) at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            left = marked(self.mark)
            ports = [p for p in self.ports.values() if port_open(p)]
            if (not left and not ports) or time.monotonic() > deadline:
                return left, ports
            time.sleep(0.5)

    def kill_leftovers(self) -> None:
        for pid in marked(self.mark):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory):
    """All four runs start at once (a Rasa start takes a minute; four in a row would take four)."""
    if not servers.MODEL.exists():
        pytest.fail("no trained model: run `make train` (make test does it first)")
    started = {kind: Run(kind, tmp_path_factory.mktemp(f"run-{kind}")) for kind in KINDS}
    yield started
    for run in started.values():
        run.kill_leftovers()


def stopped_cleanly(run: Run) -> None:
    left, ports = run.gone()
    run.kill_leftovers()
    assert not left, f"processes left behind: {left}\n{run.out.read_text(errors='replace')[-2000:]}"
    assert not ports, f"ports still open: {ports}"


def test_sigterm_to_the_process_group_stops_every_server(runs):
    run = runs["sigterm"]
    run.wait_ready()
    os.killpg(run.proc.pid, signal.SIGTERM)
    stopped_cleanly(run)


def test_sighup_a_closed_terminal_stops_every_server(runs):
    run = runs["sighup"]
    run.wait_ready()
    os.killpg(run.proc.pid, signal.SIGHUP)
    stopped_cleanly(run)


def test_a_broken_stdout_does_not_abort_the_clean_up(runs):
    """`make run | tee run.log`, Ctrl-C: tee is gone before the shutdown message is written."""
    run = runs["tee"]
    run.wait_ready()
    tee = [pid for pid, cmd in marked(run.mark).items() if cmd.startswith("tee ")]
    assert tee, marked(run.mark)
    for pid in tee:
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    os.killpg(run.proc.pid, signal.SIGINT)
    stopped_cleanly(run)
    assert "✓ web chat" in (run.base / "tee.log").read_text(errors="replace")


def test_sigkill_of_the_supervisor_leaves_no_child(runs):
    """Nothing can catch SIGKILL: the children must get PR_SET_PDEATHSIG from the kernel."""
    run = runs["sigkill"]
    run.wait_ready()
    supervisor = [pid for pid, cmd in marked(run.mark).items() if "scripts.run_all" in cmd]
    assert len(supervisor) == 1, marked(run.mark)
    os.kill(supervisor[0], signal.SIGKILL)
    stopped_cleanly(run)
