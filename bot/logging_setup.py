"""Logging for the gateway: no message bodies, no raw sender ids, no tokens in URLs.

At INFO the gateway logs only events, channels, hashed sender ids, sizes and timings.
Library loggers that print full request URLs (httpx logs the Telegram bot token and the
WeChat access_token that way; uvicorn's access log shows WeChat's `openid` query) are
raised to WARNING or turned off.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os

_QUIET = ("httpx", "httpcore", "telegram", "telegram.ext", "uvicorn.access", "apscheduler")

_salt: bytes = b""


def set_salt(salt: str) -> None:
    """Set the salt for hashed sender ids; an empty salt gets a random per-process one."""
    global _salt
    _salt = salt.encode("utf-8") if salt else os.urandom(16)


def hash_sender(sender: str) -> str:
    """`wx:openid` -> `wx:3f2a...` (channel kept, id replaced by a salted HMAC-SHA256 prefix)."""
    if not _salt:
        set_salt("")
    channel, _, raw = sender.partition(":")
    if not raw:
        channel, raw = "?", sender
    digest = hmac.new(_salt, raw.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:12]
    return f"{channel}:{digest}"


def quiet_libraries() -> None:
    """Raise loggers that print URLs with tokens or openids to WARNING."""
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


def configure_logging(level: str = "INFO", salt: str = "") -> None:
    """Configure the root logger once (called from `main()`, never at import time)."""
    set_salt(salt)
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    quiet_libraries()
