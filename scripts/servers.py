"""Start, probe and stop the assistant's processes; shared by `make run`, the tests and the bench."""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
MODEL = ROOT / "models" / "miyun.tar.gz"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RASA_TELEMETRY_ENABLED": "false",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        # Bind the action server to loopback; rasa-sdk's default is 0.0.0.0.
        "SANIC_HOST": "127.0.0.1",
    }
    env.update(extra)
    # endpoints.yml reads these; the embedded default is an SQLite tracker store beside the content.
    var = Path(env.get("MIYUN_VAR_DIR") or ROOT / "var")
    env.setdefault("MIYUN_TRACKER_DIALECT", "sqlite")
    if "MIYUN_VAR_DIR" in extra and "MIYUN_TRACKER_DB" not in extra:
        env["MIYUN_TRACKER_DB"] = str(var / "trackers.db")  # a private var dir gets private trackers
    env.setdefault("MIYUN_TRACKER_DB", str(var / "trackers.db"))
    for name in ("MIYUN_TRACKER_HOST", "MIYUN_TRACKER_USER", "MIYUN_TRACKER_PASSWORD"):
        env.setdefault(name, "")
    # The lock store: in_memory (one Rasa process) ignores the Redis keys, but endpoints.yml needs them set.
    for name, default in LOCK_STORE_DEFAULTS.items():
        env.setdefault(name, default)
    return env


LOCK_STORE_DEFAULTS = {
    "MIYUN_LOCK_STORE": "in_memory",
    "MIYUN_REDIS_HOST": "127.0.0.1",
    "MIYUN_REDIS_PORT": "6379",
    "MIYUN_REDIS_DB": "1",
    "MIYUN_REDIS_PASSWORD": "",
}


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def say(text: str = "", err: bool = False) -> None:
    """print() that survives a closed stdout: a message must never abort the clean-up."""
    stream = sys.stderr if err else sys.stdout
    try:
        print(text, file=stream, flush=True)
    except (OSError, ValueError):  # EPIPE (tee gone), EIO (terminal gone), closed file
        try:
            # later writes (and the flush at exit) go nowhere instead of raising again
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def handle_stop_signals() -> None:
    """SIGTERM and SIGHUP end the run like Ctrl-C does: through the `finally` that stops the servers."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, _raise_interrupt)


@dataclass
class Server:
    name: str
    url: str
    health: str
    proc: subprocess.Popen
    log: Optional[Path] = None
    token: str = ""                 # Rasa's HTTP API token ("" = API off or not Rasa)

    def api(self, path: str) -> str:
        """URL of a Rasa HTTP API path with the token (only for this server's own callers: tests, benches)."""
        return f"{self.url}{path}{'&' if '?' in path else '?'}token={self.token}"

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Seconds until the health URL answers 200; raises if the process dies or time runs out."""
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if self.proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-3000:] if self.log and self.log.exists() else ""
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}\n{tail}")
            try:
                with urllib.request.urlopen(self.url + self.health, timeout=2) as resp:
                    if resp.status == 200:
                        return time.perf_counter() - started
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {timeout:.0f} s")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        if self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(sig: int = signal.SIGTERM) -> Optional[Callable[[], None]]:
    """A preexec_fn that makes the child receive `sig` when its parent dies (Linux only, else None).

    So that even SIGKILL of the supervisor (`make run`, `make run-cluster`) leaves no server behind.
    SIGTERM, not SIGKILL: runuser and nginx pass it on to their own children. The kernel sends it
    when the *thread* that started the child ends, so spawn from a thread that lives as long as the
    servers (the main thread, or the cluster's supervisor thread). libc is looked up here, before
    the fork: the child must not import or allocate.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:   # the parent died before prctl took effect
            os.kill(os.getpid(), sig)

    return preexec


def _spawn(name: str, cmd: list[str], env: dict, log: Optional[Path]) -> subprocess.Popen:
    out = open(log, "ab") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=die_with_parent())
    finally:
        if log:
            out.close()  # the child has its own copy


def spawn(name: str, cmd: list[str], env: dict, log: Optional[Path]) -> subprocess.Popen:
    """Start any process in its own process group (so `Server.stop` ends it and its children)."""
    return _spawn(name, cmd, env, log)


def start_actions(port: int, log: Optional[Path] = None, name: str = "action server", **env: str) -> Server:
    cmd = [str(VENV_BIN / "python"), "-m", "rasa_sdk", "--actions", "actions", "-p", str(port)]
    proc = _spawn(name, cmd, base_env(**env), log)
    return Server(name, f"http://127.0.0.1:{port}", "/health", proc, log)


def start_rasa(port: int, action_port: int, model: Path = MODEL, log: Optional[Path] = None,
               name: str = "rasa server", action_url: Optional[str] = None, api: Optional[bool] = None,
               **env: str) -> Server:
    """Rasa with the REST channel; `action_url` (optional) replaces http://127.0.0.1:{action_port}/webhook.

    Rasa's HTTP API (trackers, events, model) is on only with a token (scripts/rasa_serve.py):
    api=None follows MIYUN_RASA_TOKEN (unset: off, as `make run` needs nothing else); api=True uses that
    token or makes a random one (tests and benches read `server.token`); api=False turns it off.
    """
    cmd = [
        python(), "-m", "scripts.rasa_serve", "-i", "127.0.0.1", "-p", str(port),
        "-m", str(model), "--endpoints", "endpoints.yml", "--credentials", "credentials.yml",
    ]
    token = env.pop("MIYUN_RASA_TOKEN", None) or os.environ.get("MIYUN_RASA_TOKEN", "").strip()
    if api is False:
        token = ""
    elif api and not token:
        token = secrets.token_urlsafe(24)
    extra = {"MIYUN_ACTION_ENDPOINT": action_url or f"http://127.0.0.1:{action_port}/webhook", **env,
             "MIYUN_RASA_TOKEN": token}
    proc = _spawn(name, cmd, base_env(**extra), log)
    # "/" answers once the model is loaded (Rasa loads it before it listens), with or without the API.
    return Server(name, f"http://127.0.0.1:{port}", "/", proc, log, token)


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def gateway_env(port: int, rasa_url: str, **env: str) -> dict[str, str]:
    """The gateway's environment as `make run`, the tests and the benches start it: on loopback.

    The console's cookies are Secure by default, but this gateway speaks plain HTTP on 127.0.0.1, where
    browsers that do not count http://127.0.0.1 as a secure context (Safari, older Firefox) would drop a
    Secure cookie: the login form's CSRF cookie never comes back and staff could not log in. Nothing on
    loopback crosses a network, so here, and only when the operator has not chosen, the opt-out is set.
    """
    extra = {"MIYUN_GATEWAY_PORT": str(port), "MIYUN_GATEWAY_HOST": "127.0.0.1", "MIYUN_RASA_URL": rasa_url, **env}
    chosen = env.get("MIYUN_STAFF_SECURE_COOKIES", os.environ.get("MIYUN_STAFF_SECURE_COOKIES", "")).strip()
    if not chosen and extra["MIYUN_GATEWAY_HOST"] in LOOPBACK_HOSTS:
        extra["MIYUN_STAFF_SECURE_COOKIES"] = "false"
    return base_env(**extra)


def start_gateway(port: int, rasa_url: str, log: Optional[Path] = None, name: str = "gateway", **env: str) -> Server:
    cmd = [str(VENV_BIN / "python"), "-m", "bot"]
    proc = _spawn(name, cmd, gateway_env(port, rasa_url, **env), log)
    return Server(name, f"http://127.0.0.1:{port}", "/healthz", proc, log)


def python() -> str:
    return str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
