"""WeChat channel through a running gateway: signatures, XML safety, message types, dedupe, deadline, split."""
from __future__ import annotations

import asyncio
import logging
import time

import pytest
from conftest import WX_AES_KEY, WX_APP_ID, WX_SECRET, WX_TOKEN, wechat_overrides
from helpers import next_msg_id, parse_reply, signed_query, text_xml, wx_xml

from bot.rasa_client import FALLBACK_TEXT
from bot.render import WECHAT_CHOICE_HINT, utf8_len
from bot.wechat import UNSUPPORTED_TEXT, VOICE_UNRECOGNISED_TEXT
from bot.wechat_crypto import WeChatCrypto, sha1_signature

OPENID = "oMiyunTestUser0000000000001"


async def post(client, xml: str | bytes, query: dict | None = None):
    return await client.post("/wechat", params=query or signed_query(WX_TOKEN),
                             content=xml.encode() if isinstance(xml, str) else xml,
                             headers={"Content-Type": "text/xml"})


@pytest.fixture()
def wx_gateway(make_gateway, fake_rasa_url, fake_rasa, wechat_api, wechat_api_server):
    return make_gateway(fake_rasa_url, **wechat_overrides(wechat_api_server[1].url))


# ------------------------------------------------------------------ verification and forgeries

async def test_get_verification(wx_gateway):
    async with wx_gateway.client() as c:
        q = signed_query(WX_TOKEN)
        r = await c.get("/wechat", params={**q, "echostr": "8123456789"})
        assert r.status_code == 200 and r.text == "8123456789"
        r = await c.get("/wechat", params={**q, "signature": "0" * 40, "echostr": "x"})
        assert r.status_code == 403


def _forgeries(token: str) -> list[dict[str, str]]:
    good = signed_query(token, ts="1700000000", nc="424242")
    out = []
    for i in range(40):
        sig = list(good["signature"])
        sig[i] = "0" if sig[i] != "0" else "1"           # every single-position change
        out.append({**good, "signature": "".join(sig)})
    out += [
        {**good, "signature": ""}, {**good, "signature": good["signature"][:-1]},
        {**good, "signature": good["signature"] + "0"}, {**good, "timestamp": "1700000001"},
        {**good, "nonce": "424243"}, {k: v for k, v in good.items() if k != "signature"},
        {**good, "signature": "签名不对"}, {**good, "signature": "\x00" * 40},
        {**good, "signature": sha1_signature("wrong-token", good["timestamp"], good["nonce"])},
        {**good, "signature": sha1_signature(token, good["timestamp"])},
    ]
    return out


async def test_forged_signatures_all_rejected(wx_gateway, fake_rasa):
    forgeries = _forgeries(WX_TOKEN)
    assert len(forgeries) >= 50
    async with wx_gateway.client() as c:
        for q in forgeries:
            r = await post(c, text_xml(OPENID, "你好"), q)
            assert r.status_code == 403, q
            r = await c.get("/wechat", params={**q, "echostr": "abc"})
            assert r.status_code == 403 and "abc" not in r.text
    assert fake_rasa.count() == 0


async def test_forged_safe_mode_msg_signatures_rejected(make_gateway, fake_rasa_url, fake_rasa, wechat_api_server):
    gw = make_gateway(fake_rasa_url, **wechat_overrides(wechat_api_server[1].url, wechat_aes_key=WX_AES_KEY))
    crypto = WeChatCrypto(WX_TOKEN, WX_AES_KEY, WX_APP_ID)
    encrypt = crypto.encrypt(text_xml(OPENID, "你好"))
    body = f"<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    q = signed_query(WX_TOKEN)
    good = sha1_signature(WX_TOKEN, q["timestamp"], q["nonce"], encrypt)
    async with gw.client() as c:
        for i in range(40):
            bad = good[:i] + ("0" if good[i] != "0" else "1") + good[i + 1:]
            r = await post(c, body, {**q, "encrypt_type": "aes", "msg_signature": bad})
            assert r.status_code == 403
        for bad in ("", "x", good.upper() + "0", sha1_signature(WX_TOKEN, q["timestamp"], q["nonce"])):
            r = await post(c, body, {**q, "encrypt_type": "aes", "msg_signature": bad})
            assert r.status_code == 403
        r = await post(c, text_xml(OPENID, "明文"), q)            # plaintext refused in safe mode
        assert r.status_code == 400
    assert fake_rasa.count() == 0


XXE = """<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>1</MsgId></xml>"""
LAUGHS = """<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<xml><FromUserName>b</FromUserName><ToUserName>a</ToUserName><MsgType>text</MsgType><Content>&lol9;</Content></xml>"""
EXTERNAL_DTD = """<?xml version="1.0"?><!DOCTYPE xml SYSTEM "http://127.0.0.1:9/evil.dtd">
<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><MsgType>text</MsgType><Content>x</Content></xml>"""
PARAM_ENTITY = """<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x">%p;]>
<xml><FromUserName>b</FromUserName></xml>"""


@pytest.mark.parametrize("body", [XXE, LAUGHS, EXTERNAL_DTD, PARAM_ENTITY, "<xml><unclosed>", "not xml at all",
                                  "<other><FromUserName>b</FromUserName></other>", ""])
async def test_xml_attacks_rejected_and_process_stays_up(wx_gateway, fake_rasa, body):
    async with wx_gateway.client() as c:
        r = await post(c, body)
        assert r.status_code == 400
        assert "root:" not in r.text
        r = await post(c, text_xml(OPENID, "你好"))               # still serving
        assert r.status_code == 200 and parse_reply(r.text)["Content"] == "您说的是：你好"


async def test_xml_bomb_inside_safe_mode_rejected(make_gateway, fake_rasa_url, fake_rasa, wechat_api_server):
    gw = make_gateway(fake_rasa_url, **wechat_overrides(wechat_api_server[1].url, wechat_aes_key=WX_AES_KEY))
    crypto = WeChatCrypto(WX_TOKEN, WX_AES_KEY, WX_APP_ID)
    q = signed_query(WX_TOKEN)
    encrypt = crypto.encrypt(LAUGHS)
    body = f"<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    q.update(encrypt_type="aes", msg_signature=sha1_signature(WX_TOKEN, q["timestamp"], q["nonce"], encrypt))
    async with gw.client() as c:
        assert (await post(c, body, q)).status_code == 400


async def test_oversized_body_rejected(wx_gateway):
    async with wx_gateway.client() as c:
        r = await post(c, "<xml>" + "a" * 70_000 + "</xml>")
        assert r.status_code == 413


# ------------------------------------------------------------------ message types

async def test_text_round_trip_exact_reply(wx_gateway, fake_rasa):
    async with wx_gateway.client() as c:
        r = await post(c, wx_xml(OPENID, "text", Content="古北口镇的法律服务站在哪", MsgId=next_msg_id(),
                                 account="gh_10f6c3c3ac5a"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    reply = parse_reply(r.text)
    assert reply["ToUserName"] == OPENID and reply["FromUserName"] == "gh_10f6c3c3ac5a"
    assert reply["MsgType"] == "text" and abs(int(reply["CreateTime"]) - time.time()) < 10
    assert reply["Content"] == ("古北口镇公共法律服务站在古北口镇政府一层。\n1. 办公时间\n2. 12348热线\n\n"
                                + WECHAT_CHOICE_HINT)
    assert fake_rasa.calls == [("wx:" + OPENID, "古北口镇的法律服务站在哪")]


async def test_numbered_choice_ascii_and_fullwidth(wx_gateway, fake_rasa):
    async with wx_gateway.client() as c:
        await post(c, text_xml(OPENID, "古北口镇的法律服务站在哪"))
        r = await post(c, text_xml(OPENID, "１"))
        assert parse_reply(r.text)["Content"].startswith("古北口镇公共法律服务站办公时间")
        assert fake_rasa.calls[-1] == ("wx:" + OPENID, '/ask_station_hours{"town": "古北口镇"}')
        await post(c, text_xml(OPENID, "古北口"))
        r = await post(c, text_xml(OPENID, "2"))
        assert fake_rasa.calls[-1][1] == "/ask_hotline"
        r = await post(c, text_xml(OPENID, "1"))                 # last answer had no buttons: plain text now
        assert fake_rasa.calls[-1][1] == "1"
        r = await post(c, text_xml("oOtherUser", "1"))          # choices are per user
        assert fake_rasa.calls[-1] == ("wx:oOtherUser", "1")


async def test_voice_location_events_and_other_types(wx_gateway, fake_rasa):
    sender = "wx:" + OPENID
    async with wx_gateway.client() as c:
        r = await post(c, wx_xml(OPENID, "voice", MediaId="m1", Format="amr", Recognition="古北口镇的服务站",
                                 MsgId=next_msg_id()))
        assert fake_rasa.calls[-1] == (sender, "古北口镇的服务站")
        r = await post(c, wx_xml(OPENID, "voice", MediaId="m1", Format="amr", MsgId=next_msg_id()))
        assert parse_reply(r.text)["Content"] == VOICE_UNRECOGNISED_TEXT
        r = await post(c, wx_xml(OPENID, "location", Location_X="40.37", Location_Y="116.84", Scale="15",
                                 Label="古北口镇", MsgId=next_msg_id()))
        assert fake_rasa.calls[-1] == (sender, '/share_location{"latitude": 40.37, "longitude": 116.84}')
        assert parse_reply(r.text)["Content"] == "离您最近的是古北口镇公共法律服务站。"
        n = fake_rasa.count()
        for kind, extra in (("image", {"PicUrl": "http://x/a.jpg", "MediaId": "1"}), ("video", {"MediaId": "1"}),
                            ("shortvideo", {"MediaId": "1"}), ("link", {"Title": "t", "Url": "http://x"}),
                            ("file", {"Title": "f"}), ("something_new", {})):
            r = await post(c, wx_xml(OPENID, kind, MsgId=next_msg_id(), **extra))
            assert parse_reply(r.text)["Content"] == UNSUPPORTED_TEXT
        assert fake_rasa.count() == n
        r = await post(c, wx_xml(OPENID, "event", Event="subscribe", EventKey=""))
        content = parse_reply(r.text)["Content"]
        assert fake_rasa.calls[-1] == (sender, "/greet") and "您好" in content and "1. 找法律服务站" in content
        r = await post(c, wx_xml(OPENID, "event", Event="CLICK", EventKey="MENU_HOTLINE", create_time=1))
        assert fake_rasa.calls[-1] == (sender, "/ask_hotline") and "12348" in parse_reply(r.text)["Content"]
        r = await post(c, wx_xml(OPENID, "event", Event="CLICK", EventKey="NO_SUCH_KEY", create_time=2))
        assert fake_rasa.calls[-1] == (sender, "/ask_capabilities")
        n = fake_rasa.count()
        for event in ("unsubscribe", "VIEW", "LOCATION", "TEMPLATESENDJOBFINISH"):
            r = await post(c, wx_xml(OPENID, "event", Event=event, EventKey="x", create_time=3))
            assert r.text == "success"
        assert fake_rasa.count() == n


async def test_empty_and_long_input(wx_gateway, fake_rasa):
    async with wx_gateway.client() as c:
        r = await post(c, text_xml(OPENID, "  \u200b "))
        assert "请输入您想咨询的问题" in parse_reply(r.text)["Content"] and fake_rasa.count() == 0
        r = await post(c, text_xml(OPENID, "问" * 800))
        content = parse_reply(r.text)["Content"]
        assert content.startswith("（您的消息较长，只处理了前500个字。）")
        assert fake_rasa.calls[-1][1] == "问" * 500


async def test_rate_limit_polite(make_gateway, fake_rasa_url, fake_rasa, wechat_api_server):
    gw = make_gateway(fake_rasa_url, rate_limit_per_min=3, **wechat_overrides(wechat_api_server[1].url))
    async with gw.client() as c:
        replies = [parse_reply((await post(c, text_xml(OPENID, f"问题{i}"))).text)["Content"] for i in range(5)]
    assert fake_rasa.count() == 3
    assert replies[3] == replies[4] and "太频繁" in replies[4] and "12348" in replies[4]


# ------------------------------------------------------------------ dedupe, deadline, split

async def test_retries_give_one_rasa_call_and_same_reply(wx_gateway, fake_rasa):
    fake_rasa.delay_s = 0.3
    xml = text_xml(OPENID, "古北口镇")
    async with wx_gateway.client() as c:
        first, second = await asyncio.gather(post(c, xml), post(c, xml))
        third = await post(c, xml)
        event = wx_xml(OPENID, "event", Event="subscribe", create_time=1234567)
        e1, e2 = await asyncio.gather(post(c, event), post(c, event))
    assert first.text == second.text == third.text and "古北口" in first.text
    assert fake_rasa.count(message="古北口镇") == 1
    assert e1.text == e2.text and fake_rasa.count(message="/greet") == 1


async def test_slow_rasa_goes_async_once(wx_gateway, fake_rasa, wechat_api):
    """Rasa slower than the passive deadline: `success` in time, then ONE customer-service reply."""
    fake_rasa.delay_s = 1.5                                    # deadline 1.0 s, Rasa timeout 2.0 s
    xml = text_xml(OPENID, "古北口镇的法律服务站在哪")
    async with wx_gateway.client() as c:
        t0 = time.perf_counter()
        r = await post(c, xml)
        assert r.text == "success" and time.perf_counter() - t0 < 1.4
        r2 = await post(c, xml)                                # WeChat's retry
        assert r2.text == "success"
        for _ in range(100):
            if wechat_api.texts_for(OPENID):
                break
            await asyncio.sleep(0.05)
        r3 = await post(c, xml)                                # a late retry after delivery
        assert r3.text == "success"
    assert wechat_api.texts_for(OPENID) == ["古北口镇公共法律服务站在古北口镇政府一层。\n1. 办公时间\n2. 12348热线\n\n"
                                             + WECHAT_CHOICE_HINT]
    assert fake_rasa.count() == 1
    token_q = wechat_api.token_requests[0]
    assert token_q == {"grant_type": "client_credential", "appid": WX_APP_ID, "secret": WX_SECRET}
    assert wechat_api.sends[0][0] == "ACCESS_TOKEN_" + wechat_api.sends[0][0].rsplit("_", 1)[1]
    assert "古北口".encode() in wechat_api.raw_sends[0]         # UTF-8, not \\u escapes
    # the numbered buttons from the late answer work too
    fake_rasa.delay_s = 0
    async with wx_gateway.client() as c:
        r = await post(c, text_xml(OPENID, "1"))
    assert fake_rasa.calls[-1][1].startswith("/ask_station_hours")


async def test_long_reply_split_passive_then_api(wx_gateway, fake_rasa, wechat_api):
    async with wx_gateway.client() as c:
        r = await post(c, text_xml(OPENID, "长回答"))
        first = parse_reply(r.text)["Content"]
        for _ in range(100):
            if wechat_api.texts_for(OPENID):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
    rest = wechat_api.texts_for(OPENID)
    assert utf8_len(first) <= 2048 and rest and all(utf8_len(p) <= 2048 for p in rest)
    full = fake_rasa.answer("长回答")[0]["text"].strip()
    assert (first + "".join(rest)).replace("\n", "") == full.replace("\n", "")


async def test_access_token_cached_and_refreshed(wx_gateway, fake_rasa, wechat_api):
    api = wx_gateway.app.state.wechat.api
    await api.send_text(OPENID, "一")
    await api.send_text(OPENID, "二")
    assert len(wechat_api.token_requests) == 1
    wechat_api.reject_next_tokens = 1                          # WeChat says the token is invalid
    await api.send_text(OPENID, "三")
    assert len(wechat_api.token_requests) == 2 and wechat_api.texts_for(OPENID) == ["一", "二", "三"]
    assert wechat_api.sends[-1][0] != wechat_api.sends[0][0]


async def test_safe_mode_round_trip(make_gateway, fake_rasa_url, fake_rasa, wechat_api_server):
    gw = make_gateway(fake_rasa_url, **wechat_overrides(wechat_api_server[1].url, wechat_aes_key=WX_AES_KEY))
    crypto = WeChatCrypto(WX_TOKEN, WX_AES_KEY, WX_APP_ID)
    encrypt = crypto.encrypt(text_xml(OPENID, "古北口镇的法律服务站在哪"))
    q = signed_query(WX_TOKEN)
    q.update(encrypt_type="aes", msg_signature=sha1_signature(WX_TOKEN, q["timestamp"], q["nonce"], encrypt))
    body = f"<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    async with gw.client() as c:
        r = await post(c, body, q)
    env = parse_reply(r.text)
    assert env["Nonce"] == q["nonce"]
    inner = parse_reply(crypto.decrypt_message(env["Encrypt"], env["MsgSignature"], env["TimeStamp"], env["Nonce"]))
    assert inner["ToUserName"] == OPENID and inner["Content"].startswith("古北口镇公共法律服务站")


async def test_logs_hold_no_bodies_or_raw_ids(wx_gateway, fake_rasa, wechat_api, caplog):
    caplog.set_level(logging.DEBUG)
    fake_rasa.delay_s = 1.2                                    # exercise the async path's logs too
    async with wx_gateway.client() as c:
        await post(c, text_xml(OPENID, "我的私密问题"))
        for _ in range(100):
            if wechat_api.texts_for(OPENID):
                break
            await asyncio.sleep(0.05)
    text = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert "turn sender=wx:" in text
    for secret in (OPENID, "我的私密问题", "ACCESS_TOKEN", WX_SECRET, "您说的是"):
        assert secret not in text


async def test_no_customer_service_api_gives_passive_fallback(make_gateway, slow_rasa_url):
    gw = make_gateway(slow_rasa_url, **wechat_overrides(None))
    async with gw.client() as c:
        t0 = time.perf_counter()
        r = await post(c, text_xml(OPENID, "你好"))
    assert time.perf_counter() - t0 < 1.5
    assert parse_reply(r.text)["Content"] == FALLBACK_TEXT


# ------------------------------------------------------------------ replays (issue 15)

async def test_replayed_signature_with_another_body_is_refused(wx_gateway, fake_rasa):
    """A captured signature/timestamp/nonce triple cannot carry a new message or another openid."""
    q = signed_query(WX_TOKEN)
    async with wx_gateway.client() as c:
        first = await post(c, text_xml(OPENID, "你好"), q)
        assert first.status_code == 200
        replay = await post(c, text_xml(OPENID, "另一条消息"), q)
        assert replay.status_code == 403
        other_user = await post(c, text_xml("oAttackerChosenOpenid", "你好"), q)
        assert other_user.status_code == 403
        event = await post(c, wx_xml(OPENID, "event", Event="subscribe", create_time=99), q)
        assert event.status_code == 403
    assert fake_rasa.calls == [("wx:" + OPENID, "你好")]


@pytest.mark.parametrize("age_s, status", [(301, 403), (-301, 403), (3600, 403), (290, 200), (-290, 200)])
async def test_timestamp_window(wx_gateway, fake_rasa, age_s, status):
    q = signed_query(WX_TOKEN, ts=str(int(time.time()) - age_s))
    async with wx_gateway.client() as c:
        r = await post(c, text_xml(OPENID, "你好"), q)
        assert r.status_code == status
        r = await c.get("/wechat", params={**q, "echostr": "77"})
        assert r.status_code == status
    assert fake_rasa.count() == (1 if status == 200 else 0)


@pytest.mark.parametrize("nonce", ["same", "new"])
async def test_retry_of_one_msgid_gets_the_one_answer(wx_gateway, fake_rasa, nonce):
    """WeChat's retries (same MsgId) are not replays, whether they reuse the nonce or bring a new one."""
    fake_rasa.delay_s = 0.2
    xml = text_xml(OPENID, "古北口镇")
    q = signed_query(WX_TOKEN)
    async with wx_gateway.client() as c:
        first, second = await asyncio.gather(
            post(c, xml, q), post(c, xml, q if nonce == "same" else signed_query(WX_TOKEN)))
        third = await post(c, xml, q if nonce == "same" else signed_query(WX_TOKEN))
    assert first.status_code == second.status_code == third.status_code == 200
    assert first.text == second.text == third.text and "古北口" in first.text
    assert fake_rasa.count(message="古北口镇") == 1


async def test_safe_mode_replay_is_a_retry_not_a_new_turn(make_gateway, fake_rasa_url, fake_rasa, wechat_api_server):
    gw = make_gateway(fake_rasa_url, **wechat_overrides(wechat_api_server[1].url, wechat_aes_key=WX_AES_KEY))
    crypto = WeChatCrypto(WX_TOKEN, WX_AES_KEY, WX_APP_ID)
    encrypt = crypto.encrypt(text_xml(OPENID, "你好"))
    q = signed_query(WX_TOKEN)
    q.update(encrypt_type="aes", msg_signature=sha1_signature(WX_TOKEN, q["timestamp"], q["nonce"], encrypt))
    body = f"<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    async with gw.client() as c:
        assert (await post(c, body, q)).status_code == 200
        assert (await post(c, body, q)).status_code == 200
        other = crypto.encrypt(text_xml(OPENID, "换了内容"))      # same triple, new ciphertext: a forgery
        bad = f"<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Encrypt><![CDATA[{other}]]></Encrypt></xml>"
        assert (await post(c, bad, q)).status_code == 403
    assert fake_rasa.count() == 1


def test_nonce_cache_forgets_pairs_only_after_the_window():
    from bot.wechat_replay import MemoryNonceCache, ReplayGuard

    now = [1_800_000_000.0]
    guard = ReplayGuard(MemoryNonceCache(clock=lambda: now[0]), window_s=300, clock=lambda: now[0])
    ts = str(int(now[0]))
    assert guard.fresh(ts) and guard.claim(ts, "n1", "m:a:1")
    assert guard.claim(ts, "n1", "m:a:1") and not guard.claim(ts, "n1", "m:a:2")
    now[0] += 299
    assert guard.fresh(ts) and not guard.claim(ts, "n1", "m:a:2")
    now[0] += 2
    assert not guard.fresh(ts)                     # by then the timestamp is refused anyway
    assert len(guard.cache) == 0 or guard.claim(ts, "n1", "m:a:2")
    for bad in ("", "abc", "-5", "1" * 20, "1.5"):
        assert not guard.fresh(bad)
    full = MemoryNonceCache(max_entries=2, clock=lambda: now[0])
    assert full.claim("1", "a", "k", now[0] + 10) and full.claim("1", "b", "k", now[0] + 10)
    assert not full.claim("1", "c", "k", now[0] + 10)   # full of live pairs: refuse, never forget early
