"""Issue 15: per-IP limits on the web chat. A fresh session costs nothing (send none and get one), so
the per-sender limit alone would let one client rotate sessions for unlimited status guesses."""
from __future__ import annotations

from starlette.requests import Request

from bot.webchat import client_ip


async def test_fresh_sessions_per_ip_are_limited(make_gateway, fake_rasa_url, fake_rasa):
    gw = make_gateway(fake_rasa_url, web_new_sessions_per_ip_per_hour=12, web_per_ip_per_min=1000)
    async with gw.client() as c:
        replies = [await c.post("/api/chat", json={"message": f"查询调解进度 {i}"}) for i in range(14)]
        sessions = {r.json()["session"] for r in replies[:12]}
        assert len(sessions) == 12 and all(r.status_code == 200 for r in replies[:12])
        assert [r.status_code for r in replies[12:]] == [429, 429]
        assert "太频繁" in replies[12].json()["messages"][0]["text"] and replies[12].json()["session"] is None
        # a resident who keeps the session is still served
        kept = await c.post("/api/chat", json={"session": replies[0].json()["session"], "message": "你好"})
        assert kept.status_code == 200
    assert fake_rasa.count() == 13


async def test_messages_per_ip_are_limited_across_sessions(make_gateway, fake_rasa_url, fake_rasa):
    gw = make_gateway(fake_rasa_url, web_per_ip_per_min=6, web_new_sessions_per_ip_per_hour=1000)
    async with gw.client() as c:
        codes = [(await c.post("/api/chat", json={"session": f"s{i:02d}" * 8, "message": "你好"})).status_code
                 for i in range(8)]
    assert codes == [200] * 6 + [429] * 2 and fake_rasa.count() == 6


def _request(peer: str, forwarded: str = "") -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "client": (peer, 1234), "headers": headers})


def test_forwarded_for_is_believed_only_from_a_trusted_proxy():
    assert client_ip(_request("203.0.113.7", "1.2.3.4"), frozenset()) == "203.0.113.7"       # anyone can send the header
    assert client_ip(_request("10.0.0.2", "1.2.3.4, 198.51.100.9"), frozenset({"10.0.0.2"})) == "198.51.100.9"
    assert client_ip(_request("10.0.0.2"), frozenset({"10.0.0.2"})) == "10.0.0.2"
