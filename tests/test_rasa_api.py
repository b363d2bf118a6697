"""Rasa's HTTP API behind its token (issue 15), on the real Rasa server of the session `stack`."""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import pytest

from scripts import rasa_serve


def _status(url: str, method: str = "GET", body: bytes | None = None) -> int:
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_tracker_and_api_refused_without_the_token(stack):
    sender = "web:api-token-check"
    stack.say(sender, "古北口镇的法律服务站在哪")
    url = stack.rasa_url
    assert stack.rasa.token
    for path, method, body in (
        (f"/conversations/{sender}/tracker", "GET", None),
        (f"/conversations/{sender}/tracker/events", "POST", b'{"event": "slot", "name": "phone", "value": "1"}'),
        ("/model", "PUT", b'{"model_file": "/tmp/x.tar.gz"}'),
        ("/model/parse", "POST", b'{"text": "hi"}'),
        ("/status", "GET", None),
    ):
        assert _status(url + path, method, body) == 401, path
        assert _status(url + path + "?token=wrong-" + stack.rasa.token, method, body) == 401, path
    with urllib.request.urlopen(stack.rasa.api(f"/conversations/{sender}/tracker"), timeout=30) as resp:
        events = json.loads(resp.read())["events"]
    assert [e["text"] for e in events if e["event"] == "user"] == ["古北口镇的法律服务站在哪"]
    assert _status(url + "/") == 200                     # the health path stays open


def test_token_is_not_on_any_command_line(stack):
    """`ps` shows every process's argv to every local user; the token travels in the environment."""
    token = stack.rasa.token.encode()
    pid = stack.rasa.proc.pid
    pids = [pid] + [int(p) for p in os.listdir("/proc") if p.isdigit() and _pgid(int(p)) == pid]
    for p in pids:
        try:
            assert token not in open(f"/proc/{p}/cmdline", "rb").read()
        except FileNotFoundError:
            pass


def _pgid(pid: int) -> int:
    try:
        return os.getpgid(pid)
    except OSError:
        return -1


def test_a_token_that_starts_with_a_dash_still_parses():
    from rasa.__main__ import create_argument_parser

    args = create_argument_parser().parse_args(rasa_serve.rasa_argv(["-p", "5005"], "-c03Ne5gY")[1:])
    assert args.auth_token == "-c03Ne5gY" and args.enable_api


def test_wrapper_adds_the_api_only_with_a_token():
    assert rasa_serve.rasa_argv(["-p", "5005"], "") == ["rasa", "run", "-p", "5005"]
    assert rasa_serve.rasa_argv(["-p", "5005"], "t0k") == ["rasa", "run", "-p", "5005", "--enable-api",
                                                          "--auth-token=t0k"]
    for bad in (["--enable-api"], ["--auth-token", "x"], ["--auth-token=x"]):
        with pytest.raises(SystemExit):
            rasa_serve.rasa_argv(bad, "")
