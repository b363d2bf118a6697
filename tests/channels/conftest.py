"""Fixtures for the channel gateway tests: fake Rasa / WeChat API / Telegram servers and gateways."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from channel_fakes import FakeRasa, FakeTelegram, FakeWeChatAPI, ServerThread, free_dead_url  # noqa: E402

from bot.app import create_app  # noqa: E402
from miyun.settings import GatewaySettings  # noqa: E402

WX_TOKEN = "miyun_test_token"
WX_APP_ID = "wx2c2769f8efd9abc2"
WX_SECRET = "test_app_secret_value"
WX_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
TG_TOKEN = "123456:TEST-token"
TG_SECRET = "tg-webhook-secret_0123456789"


@pytest.fixture(scope="session")
def fake_rasa_server() -> Iterator[tuple[FakeRasa, ServerThread]]:
    fake = FakeRasa()
    server = ServerThread(fake.app).start()
    yield fake, server
    server.stop()


@pytest.fixture(scope="session")
def fake_rasa_url(fake_rasa_server: tuple[FakeRasa, ServerThread]) -> str:
    """Base URL of the local fake Rasa (REST channel protocol)."""
    return fake_rasa_server[1].url


@pytest.fixture()
def fake_rasa(fake_rasa_server: tuple[FakeRasa, ServerThread]) -> Iterator[FakeRasa]:
    """The fake Rasa, reset for this test."""
    fake_rasa_server[0].reset()
    yield fake_rasa_server[0]
    fake_rasa_server[0].reset()


@pytest.fixture(scope="session")
def slow_rasa_url() -> Iterator[str]:
    """A fake Rasa that sleeps 30 s: far longer than any deadline."""
    server = ServerThread(FakeRasa(delay_s=30.0).app).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def dead_rasa_url() -> str:
    """A loopback port where nothing listens."""
    return free_dead_url()


@pytest.fixture(scope="session")
def wechat_api_server() -> Iterator[tuple[FakeWeChatAPI, ServerThread]]:
    fake = FakeWeChatAPI()
    server = ServerThread(fake.app).start()
    yield fake, server
    server.stop()


@pytest.fixture()
def wechat_api(wechat_api_server: tuple[FakeWeChatAPI, ServerThread]) -> FakeWeChatAPI:
    wechat_api_server[0].reset()
    return wechat_api_server[0]


@pytest.fixture(scope="session")
def telegram_server() -> Iterator[tuple[FakeTelegram, ServerThread]]:
    fake = FakeTelegram(TG_TOKEN)
    server = ServerThread(fake.app).start()
    yield fake, server
    server.stop()


@pytest.fixture()
def telegram_api(telegram_server: tuple[FakeTelegram, ServerThread]) -> FakeTelegram:
    telegram_server[0].reset()
    return telegram_server[0]


def gateway_settings(rasa: str, **overrides: Any) -> GatewaySettings:
    """Explicit settings for tests (nothing read from the developer's environment)."""
    values: dict[str, Any] = dict(
        host="127.0.0.1", port=0, rasa_url=rasa, rasa_timeout_s=2.0, rasa_max_concurrency=8,
        rate_limit_per_min=20, max_input_chars=500, log_level="INFO", log_salt="test-salt",
        wechat_token="", wechat_app_id="", wechat_app_secret="", wechat_aes_key="",
        wechat_api_base="http://127.0.0.1:9", wechat_passive_deadline_s=1.0,
        telegram_bot_token="", telegram_webhook_secret="", telegram_webhook_url="",
        telegram_api_base="http://127.0.0.1:9/bot", telegram_mode="polling",
    )
    values.update(overrides)
    return GatewaySettings(**values)


class Gateway:
    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.server = ServerThread(self.app).start()
        self.url = self.server.url

    def client(self, **kw: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, trust_env=False, timeout=kw.pop("timeout", 15.0), **kw)


@pytest.fixture()
def make_gateway() -> Iterator[Callable[..., Gateway]]:
    """Factory: make_gateway(rasa_url, **settings overrides) -> a running Gateway on a loopback port."""
    started: list[Gateway] = []

    def factory(rasa: str, **overrides: Any) -> Gateway:
        gw = Gateway(gateway_settings(rasa, **overrides))
        started.append(gw)
        return gw

    yield factory
    for gw in started:
        gw.server.stop()


def wechat_overrides(api_url: str | None, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = dict(wechat_token=WX_TOKEN, wechat_app_id=WX_APP_ID if api_url else "",
                                  wechat_app_secret=WX_SECRET if api_url else "",
                                  wechat_api_base=api_url or "http://127.0.0.1:9")
    values.update(extra)
    return values


def telegram_overrides(api_url: str, mode: str = "webhook", **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = dict(telegram_bot_token=TG_TOKEN, telegram_api_base=api_url + "/bot",
                                  telegram_mode=mode, telegram_webhook_secret=TG_SECRET if mode == "webhook" else "")
    values.update(extra)
    return values
