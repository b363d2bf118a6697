"""WeChat signature and safe-mode crypto against WeChat's published sample (token spamtest)."""
from __future__ import annotations

import base64

import pytest

from bot.wechat import parse_xml
from bot.wechat_crypto import (
    WeChatCrypto,
    WeChatCryptoError,
    check_msg_signature,
    check_signature,
    sha1_signature,
)

# From WeChat's official message-encryption sample code (WXBizMsgCrypt Sample.py, 2014).
TOKEN = "spamtest"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx2c2769f8efd9abc2"
TIMESTAMP = "1409735669"
NONCE = "1320562132"
MSG_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
SIGNATURE = "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a"
ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2L"
    "dJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6u"
    "x5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJ"
    "pXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCz"
    "pu9GhglF2PE="
)
PLAINTEXT = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n"
    "<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\n"
    "<CreateTime>1409735668</CreateTime>\n"
    "<MsgType><![CDATA[text]]></MsgType>\n"
    "<Content><![CDATA[abcdteT]]></Content>\n"
    "<MsgId>6054768590064713728</MsgId>\n"
    "</xml>"
)


@pytest.fixture()
def crypto() -> WeChatCrypto:
    return WeChatCrypto(TOKEN, AES_KEY, APP_ID)


def test_published_signatures():
    assert sha1_signature(TOKEN, TIMESTAMP, NONCE, ENCRYPT) == MSG_SIGNATURE
    assert check_msg_signature(TOKEN, MSG_SIGNATURE, TIMESTAMP, NONCE, ENCRYPT)
    assert check_signature(TOKEN, SIGNATURE, TIMESTAMP, NONCE)
    assert check_signature(TOKEN, SIGNATURE.upper(), TIMESTAMP, NONCE)


def test_decrypt_published_ciphertext(crypto):
    plain = crypto.decrypt_message(ENCRYPT, MSG_SIGNATURE, TIMESTAMP, NONCE)
    assert plain == PLAINTEXT
    fields = parse_xml(plain.encode())
    assert fields["Content"] == "abcdteT" and fields["MsgId"] == "6054768590064713728"


def test_round_trip_and_envelope(crypto):
    text = "<xml><Content><![CDATA[古北口镇公共法律服务站 ✓]]></Content></xml>"
    assert crypto.decrypt(crypto.encrypt(text)) == text
    envelope = parse_xml(crypto.encrypt_message(text, "12345", "1700000000").encode())
    assert envelope["TimeStamp"] == "1700000000" and envelope["Nonce"] == "12345"
    assert check_msg_signature(TOKEN, envelope["MsgSignature"], "1700000000", "12345", envelope["Encrypt"])
    assert crypto.decrypt_message(envelope["Encrypt"], envelope["MsgSignature"], "1700000000", "12345") == text
    # Deterministic given the random prefix; a different prefix gives a different ciphertext.
    assert crypto.encrypt("a", b"0" * 16) == crypto.encrypt("a", b"0" * 16) != crypto.encrypt("a", b"1" * 16)


def test_rejections(crypto):
    with pytest.raises(WeChatCryptoError):
        crypto.decrypt_message(ENCRYPT, "0" * 40, TIMESTAMP, NONCE)
    with pytest.raises(WeChatCryptoError, match="appid"):
        WeChatCrypto(TOKEN, AES_KEY, "wx0000000000000000").decrypt(ENCRYPT)
    with pytest.raises(WeChatCryptoError):
        crypto.decrypt("not base64!!")
    with pytest.raises(WeChatCryptoError):
        crypto.decrypt(base64.b64encode(b"x" * 17).decode())
    raw = bytearray(base64.b64decode(ENCRYPT))
    raw[-1] ^= 0x55                                         # corrupt the last block -> bad padding
    with pytest.raises(WeChatCryptoError):
        crypto.decrypt(base64.b64encode(bytes(raw)).decode())
    with pytest.raises(ValueError):
        WeChatCrypto(TOKEN, "short", APP_ID)
    assert not check_signature(TOKEN, "", TIMESTAMP, NONCE)
    assert not check_signature(TOKEN, "签名" * 20, TIMESTAMP, NONCE)     # non-ASCII never raises
