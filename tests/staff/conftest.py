"""Fixtures for the staff console: a published private content copy with users, referrals,
unanswered questions, feedback and a tracker store; TestClients logged in per role."""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest
from starlette.testclient import TestClient

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")

from bot.app import create_app  # noqa: E402
from console import create_console  # noqa: E402
from miyun.knowledge import publish  # noqa: E402
from miyun.referrals.sqlite import RuntimeStore  # noqa: E402
from miyun.settings import GatewaySettings, Settings, StaffSettings  # noqa: E402
from miyun.staff.store import StaffStore, hash_password  # noqa: E402
from tests.channels.channel_fakes import ServerThread  # noqa: E402  (one in-process uvicorn runner)

ROOT = Path(__file__).resolve().parents[2]
PASSWORDS = {"ed": "editor-pass-123", "med": "mediator-pass-123", "adm": "admin-pass-1234", "med2": "mediator2-pass-1"}
ROLE_USER = {"editor": "ed", "mediator": "med", "admin": "adm"}
OWN_TOWN, OTHER_TOWN = "古北口镇", "石城镇"
# Strings that only appear when data is shown: none may be in a refusal.
SECRETS = ("13912345678", "13800001111", "王大爷", "李阿姨", "宅基地吵架的经过", "未答问题样本", "没帮助的意见样本")


def gateway_settings(rasa_url: str = "http://127.0.0.1:9", **extra: Any) -> GatewaySettings:
    """Explicit gateway settings (nothing read from the developer's environment)."""
    values: dict[str, Any] = dict(
        host="127.0.0.1", port=0, rasa_url=rasa_url, rasa_timeout_s=10.0, rasa_max_concurrency=8,
        rate_limit_per_min=60, max_input_chars=500, log_level="INFO", log_salt="test-salt",
        wechat_token="", wechat_app_id="", wechat_app_secret="", wechat_aes_key="",
        wechat_api_base="http://127.0.0.1:9", wechat_passive_deadline_s=1.0,
        telegram_bot_token="", telegram_webhook_secret="", telegram_webhook_url="",
        telegram_api_base="http://127.0.0.1:9/bot", telegram_mode="polling")
    values.update(extra)
    return GatewaySettings(**values)


def staff_settings(var: Path, **extra: Any) -> StaffSettings:
    values: dict[str, Any] = dict(session_hours=8.0, secure_cookies=False, login_max_per_account=5,
                                  login_max_per_ip=20, login_window_min=15.0, stale_days=365,
                                  tracker_db=var / "trackers.db")
    values.update(extra)
    return StaffSettings(**values)


def referral_fields(town: str, name: str, phone: str, description: str) -> dict:
    return {"kind": "mediation", "level": "town", "target": f"{town}说法评理平台（司法所）", "dispute_type": "土地宅基地",
            "town": town, "village": "河西村", "description": description, "involvement": "none", "name": name,
            "phone": phone, "contact_time": "工作日下午", "sender_hash": "abc", "channel": "web"}


def seed(core: Settings) -> dict:
    """Users of each role, two referrals in different towns, unanswered questions, feedback, trackers."""
    users = StaffStore(core.runtime_db)
    users.create_user("ed", hash_password(PASSWORDS["ed"]), "editor", [], "pytest")
    users.create_user("med", hash_password(PASSWORDS["med"]), "mediator", [OWN_TOWN], "pytest")
    users.create_user("med2", hash_password(PASSWORDS["med2"]), "mediator", [OWN_TOWN, OTHER_TOWN], "pytest")
    users.create_user("adm", hash_password(PASSWORDS["adm"]), "admin", [], "pytest")
    runtime = RuntimeStore(core.runtime_db)
    own, _ = runtime.create_referral("k-own", referral_fields(OWN_TOWN, "王大爷", "13912345678", "宅基地吵架的经过"), 2026)
    other, _ = runtime.create_referral("k-other", referral_fields(OTHER_TOWN, "李阿姨", "13800001111", "另一个镇的经过"), 2026)
    for q in ("未答问题样本：养的羊被邻居毒死了怎么赔", "未答问题样本：养的羊被邻居毒死了咋赔", "无人机拍到邻居院子违法吗"):
        runtime.log_unanswered(q, q, "s", None, 1.0)
    runtime.record_feedback("hotline", True, "s1")
    fid = runtime.record_feedback("labour-unpaid-wages", False, "s2")
    runtime.add_feedback_comment(fid, "没帮助的意见样本")
    conn = sqlite3.connect(core.var_dir / "trackers.db")
    conn.execute("create table events (id integer primary key, sender_id text, type_name text, timestamp real, "
                 "intent_name text, action_name text, data text)")
    now = time.time()
    rows = [("web:a", "user", now, "ask_legal_question")] * 3 + [("web:b", "user", now - 86400, "ask_hotline")] * 2
    rows += [("web:a", "bot", now, None)]
    conn.executemany("insert into events (sender_id, type_name, timestamp, intent_name) values (?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()
    return {"own": own["ref"], "other": other["ref"]}


def checkpoint(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


@dataclass
class Env:
    PASSWORDS = PASSWORDS
    ROLE_USER = ROLE_USER
    SECRETS = SECRETS
    OWN_TOWN, OTHER_TOWN = OWN_TOWN, OTHER_TOWN

    root: Path
    refs: dict
    staff_overrides: dict = field(default_factory=dict)
    clients: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.core = Settings(content_dir=self.root / "content", var_dir=self.root / "var")
        self.settings = staff_settings(self.core.var_dir, **self.staff_overrides)
        self.app = create_app(gateway_settings(), staff=create_console(self.core, self.settings))
        self.users = StaffStore(self.core.runtime_db)
        self.runtime = RuntimeStore(self.core.runtime_db)

    def anonymous(self) -> TestClient:
        base = "https://testserver" if self.settings.secure_cookies else "http://testserver"
        return TestClient(self.app, base_url=base, follow_redirects=False)

    def login(self, name: str, password: Optional[str] = None, client: Optional[TestClient] = None) -> Any:
        client = client or self.anonymous()
        page = client.get("/staff/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        return client, client.post("/staff/login", data={"csrf": token, "name": name,
                                                          "password": PASSWORDS.get(name, "") if password is None else password})

    def client(self, role: str) -> TestClient:
        """A client logged in as the user of `role` (cached)."""
        if role not in self.clients:
            client, r = self.login(ROLE_USER.get(role, role))
            assert r.status_code == 303, r.text
            self.clients[role] = client
        return self.clients[role]

    def csrf(self, client: TestClient) -> str:
        return re.search(r'name="csrf" value="([^"]+)"', client.get("/staff/").text).group(1)

    def audit(self, action: str) -> list[dict]:
        return [r for r in self.users.audit_rows(1000) if r["action"] == action]


@pytest.fixture(scope="session")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A published content copy with seeded users and data, built once."""
    root = tmp_path_factory.mktemp("staff-pristine")
    shutil.copytree(ROOT / "content", root / "content")
    core = Settings(content_dir=root / "content", var_dir=root / "var")
    publish.publish(core, "pytest", "fixture")
    refs = seed(core)
    checkpoint(core.runtime_db)
    return root, refs


@pytest.fixture(scope="session")
def shared_env(pristine: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory) -> Env:
    """One environment for read-mostly tests (permissions): never used to change content."""
    target = tmp_path_factory.mktemp("staff-shared") / "env"
    shutil.copytree(pristine[0], target)
    return Env(target, pristine[1])


@pytest.fixture()
def env(pristine: tuple[Path, dict], tmp_path: Path) -> Env:
    """A private copy of the seeded environment for a test that writes."""
    shutil.copytree(pristine[0], tmp_path / "env")
    return Env(tmp_path / "env", pristine[1])


@pytest.fixture()
def make_env(pristine: tuple[Path, dict], tmp_path: Path):
    """Factory: a private environment with staff setting overrides."""
    def factory(**overrides: Any) -> Env:
        target = tmp_path / f"env{len(list(tmp_path.iterdir()))}"
        shutil.copytree(pristine[0], target)
        return Env(target, pristine[1], overrides)
    return factory


@pytest.fixture()
def serve() -> Iterator[Any]:
    """Factory: serve(app) -> a running ServerThread, stopped after the test."""
    started: list[ServerThread] = []

    def factory(app: Any) -> ServerThread:
        server = ServerThread(app).start()
        started.append(server)
        return server

    yield factory
    for s in started:
        s.stop()


@pytest.fixture(scope="session")
def settings_factories() -> tuple:
    """(gateway_settings, staff_settings) builders for tests that start their own gateway."""
    return gateway_settings, staff_settings
