"""`make run`: start the action server, Rasa and the gateway, then chat in the terminal.

Ctrl-C stops every process this started. Ports come from MIYUN_ACTION_PORT,
MIYUN_RASA_PORT and MIYUN_GATEWAY_PORT.
"""
from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path

from scripts import servers

ROOT = Path(__file__).resolve().parent.parent


def ask(rasa_url: str, sender: str, text: str) -> list[dict]:
    body = json.dumps({"sender": sender, "message": text}).encode()
    req = urllib.request.Request(rasa_url + "/webhooks/rest/webhook", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def terminal_chat(rasa_url: str, gateway_url: str = "") -> None:
    """A line-by-line chat; a digit picks a numbered button."""
    print("\n在下面输入问题，回车发送；输入数字选择按钮；Ctrl-C 退出。\n")
    buttons: list[dict] = []
    sender = f"cli:{os.getpid()}"
    while True:
        try:
            text = input("您：").strip()
        except EOFError:
            return
        if not text:
            continue
        if text.isdigit() and 1 <= int(text) <= len(buttons):
            text = buttons[int(text) - 1]["payload"]
        try:
            replies = ask(rasa_url, sender, text)
        except OSError as exc:
            print(f"助手：暂时无法连接（{exc}）。法律咨询请拨打12348。")
            continue
        buttons = []
        for msg in replies:
            if msg.get("text"):
                print("助手：" + msg["text"].replace("\n", "\n      "))
            doc = (msg.get("custom") or {}).get("document")
            if isinstance(doc, dict) and gateway_url:   # a generated document: the gateway serves it
                for fmt in doc.get("formats") or []:
                    print(f"      {doc.get('title', '文书')}（{fmt}）：{gateway_url}/documents/{doc['token']}/{fmt}")
            for b in msg.get("buttons") or []:
                buttons.append(b)
                print(f"      {len(buttons)}. {b['title']}")
        print()


def main() -> int:
    action_port = int(os.environ.get("MIYUN_ACTION_PORT", "5055"))
    rasa_port = int(os.environ.get("MIYUN_RASA_PORT", "5005"))
    gateway_port = int(os.environ.get("MIYUN_GATEWAY_PORT", "8080"))
    logs = ROOT / "var" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started: list[servers.Server] = []
    try:
        actions = servers.start_actions(action_port, logs / "actions.log")
        started.append(actions)
        rasa = servers.start_rasa(rasa_port, action_port, log=logs / "rasa.log")
        started.append(rasa)
        actions.wait_ready(60)
        print(f"✓ action server   http://127.0.0.1:{action_port}   (log var/logs/actions.log)")
        rasa.wait_ready(180)
        print(f"✓ Rasa (REST)     http://127.0.0.1:{rasa_port}/webhooks/rest/webhook   (log var/logs/rasa.log)")
        gateway = servers.start_gateway(gateway_port, rasa.url, logs / "gateway.log")
        started.append(gateway)
        gateway.wait_ready(60)
        print(f"✓ web chat        http://127.0.0.1:{gateway_port}/   (log var/logs/gateway.log)")
        if sys.stdin.isatty():
            terminal_chat(rasa.url, f"http://127.0.0.1:{gateway_port}")
        else:
            print("no terminal attached: servers keep running until Ctrl-C / SIGTERM")
            rasa.proc.wait()
    except KeyboardInterrupt:
        pass
    except (RuntimeError, TimeoutError) as exc:
        print(f"✗ {exc}", file=sys.stderr)
        return 1
    finally:
        print("\nstopping…")
        for server in reversed(started):
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
