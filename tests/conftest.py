"""Shared fixtures: an isolated content/runtime store, and the real Rasa + action servers."""
from __future__ import annotations

import json
import os
import shutil
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from scripts import servers

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def session_var(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A var dir for the whole run, with the content published once."""
    var = tmp_path_factory.mktemp("var")
    _publish(ROOT / "content", var)
    return var


def _publish(content_dir: Path, var: Path) -> None:
    from miyun import settings
    from miyun.knowledge import publish

    old = {k: os.environ.get(k) for k in ("MIYUN_VAR_DIR", "MIYUN_CONTENT_DIR")}
    os.environ["MIYUN_VAR_DIR"], os.environ["MIYUN_CONTENT_DIR"] = str(var), str(content_dir)
    try:
        publish.publish(settings.load(), "pytest", "test fixture")
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


@pytest.fixture()
def content_copy(tmp_path: Path) -> Path:
    """A private copy of content/ that a test may edit."""
    target = tmp_path / "content"
    shutil.copytree(ROOT / "content", target)
    return target


@pytest.fixture()
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content_copy: Path):
    """Settings pointing at a private content copy and var dir, with stores reset."""
    from actions import context
    from miyun import settings

    monkeypatch.setenv("MIYUN_CONTENT_DIR", str(content_copy))
    monkeypatch.setenv("MIYUN_VAR_DIR", str(tmp_path / "var"))
    context.reset()
    yield settings.load()
    context.reset()


@pytest.fixture()
def published(isolated):
    """Isolated settings with the content published once."""
    from miyun.knowledge import publish

    publish.publish(isolated, "pytest", "fixture")
    return isolated


class Stack:
    """The real action server and Rasa server, started for the test session."""

    def __init__(self, var: Path, content_dir: Path, logs: Path) -> None:
        self.var, self.content_dir, self.logs = var, content_dir, logs
        self.action_port, self.rasa_port = servers.free_port(), servers.free_port()
        env = {"MIYUN_VAR_DIR": str(var), "MIYUN_CONTENT_DIR": str(content_dir)}
        self.actions = servers.start_actions(self.action_port, logs / "actions.log", **env)
        # The HTTP API on, behind a random token (self.rasa.token), so tests can read trackers.
        self.rasa = servers.start_rasa(self.rasa_port, self.action_port, log=logs / "rasa.log", api=True, **env)
        self.actions.wait_ready(60)
        self.rasa.wait_ready(180)

    @property
    def rasa_url(self) -> str:
        return self.rasa.url

    def say(self, sender: str, text: str) -> list[dict]:
        """One message through Rasa's REST webhook, as a channel would send it."""
        body = json.dumps({"sender": sender, "message": text}).encode()
        req = urllib.request.Request(self.rasa_url + "/webhooks/rest/webhook", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def stop(self) -> None:
        self.rasa.stop()
        self.actions.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Real servers over a private copy of the content (tests may publish changes to it)."""
    if not servers.MODEL.exists():
        pytest.fail("no trained model: run `make train` (make test does it first)")
    base = tmp_path_factory.mktemp("stack")
    content_dir = base / "content"
    shutil.copytree(ROOT / "content", content_dir)
    _publish(content_dir, base / "var")
    running = Stack(base / "var", content_dir, base)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def pg_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """MIYUN_TEST_PG_DSN if given, else a throwaway PostgreSQL server started for this run."""
    given = os.environ.get("MIYUN_TEST_PG_DSN", "").strip()
    if given:
        yield given
        return
    from scripts import pg_throwaway

    reason = pg_throwaway.available()
    if reason:
        pytest.skip(f"PostgreSQL contract skipped: {reason}; or set MIYUN_TEST_PG_DSN")
    # Not under pytest's tmp dir: that is private to root, and PostgreSQL runs as `postgres`.
    base = pg_throwaway.make_base("miyun-pg-")
    try:
        with pg_throwaway.throwaway_postgres(base) as dsn:
            yield dsn
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def rasa_url(stack: Stack) -> str:
    """Base URL of the real Rasa server (REST channel)."""
    return stack.rasa_url
