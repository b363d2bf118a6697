"""`make run`: start the action server, Rasa and the gateway, then chat in the terminal.

Ctrl-C, SIGTERM (a service manager, `kill`) and SIGHUP (the terminal closed) stop every process
this started, even when stdout is gone (`make run | tee run.log`, whose tee dies first on Ctrl-C);
the children also get SIGTERM from the kernel if this process dies (scripts/servers.py). Ports come
from MIYUN_ACTION_PORT, MIYUN_RASA_PORT and MIYUN_GATEWAY_PORT; logs go to MIYUN_VAR_DIR/logs.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time
import urllib.request
from pathlib import Path

from scripts import servers

ROOT = Path(__file__).resolve().parent.parent


def stop_all(started: list) -> None:
    """Stop the servers, newest first; a second signal meanwhile must not leave some running."""
    for sig in servers.STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    for server in reversed(started):
        try:
            server.stop()
        except Exception as exc:  # noqa: BLE001 - keep stopping the others
            servers.say(f"stopping {server.name}: {exc}", err=True)
    started.clear()


def ask(rasa_url: str, sender: str, text: str) -> list[dict]:
    body = json.dumps({"sender": sender, "message": text}).encode()
    req = urllib.request.Request(rasa_url + "/webhooks/rest/webhook", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def terminal_chat(rasa_url: str, gateway_url: str = "") -> None:
    """A line-by-line chat; a digit picks a numbered button."""
    servers.say("\n在下面输入问题，回车发送；输入数字选择按钮；Ctrl-C 退出。\n")
    buttons: list[dict] = []
    sender = f"cli:{os.getpid()}"
    while True:
        try:
            text = input("您：").strip()
        except (EOFError, OSError):  # end of input, or the terminal is gone
            return
        if not text:
            continue
        if text.isdigit() and 1 <= int(text) <= len(buttons):
            text = buttons[int(text) - 1]["payload"]
        try:
            replies = ask(rasa_url, sender, text)
        except OSError as exc:
            servers.say(f"助手：暂时无法连接（{exc}）。法律咨询请拨打12348。")
            continue
        buttons = []
        for msg in replies:
            if msg.get("text"):
                servers.say("助手：" + msg["text"].replace("\n", "\n      "))
            doc = (msg.get("custom") or {}).get("document")
            if isinstance(doc, dict) and gateway_url:   # a generated document: the gateway serves it
                for fmt in doc.get("formats") or []:
                    servers.say(f"      {doc.get('title', '文书')}（{fmt}）：{gateway_url}/documents/{doc['token']}/{fmt}")
            for b in msg.get("buttons") or []:
                buttons.append(b)
                servers.say(f"      {len(buttons)}. {b['title']}")
        servers.say()


def main() -> int:
    from miyun.settings import InsecureSettings, require_production_secrets

    try:
        require_production_secrets()  # only when MIYUN_ENV=production; `make run` generates var/secrets/log_salt
    except InsecureSettings as exc:
        print(f"✗ {exc}", file=sys.stderr)
        return 2
    action_port = int(os.environ.get("MIYUN_ACTION_PORT", "5055"))
    rasa_port = int(os.environ.get("MIYUN_RASA_PORT", "5005"))
    gateway_port = int(os.environ.get("MIYUN_GATEWAY_PORT", "8080"))
    logs = Path(os.environ.get("MIYUN_VAR_DIR") or ROOT / "var") / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started: list[servers.Server] = []
    servers.handle_stop_signals()
    try:
        actions = servers.start_actions(action_port, logs / "actions.log")
        started.append(actions)
        rasa = servers.start_rasa(rasa_port, action_port, log=logs / "rasa.log")
        started.append(rasa)
        actions.wait_ready(60)
        servers.say(f"✓ action server   http://127.0.0.1:{action_port}   (log {_shown(logs / 'actions.log')})")
        rasa.wait_ready(180)
        servers.say(f"✓ Rasa (REST)     http://127.0.0.1:{rasa_port}/webhooks/rest/webhook   (log {_shown(logs / 'rasa.log')})")
        gateway = servers.start_gateway(gateway_port, rasa.url, logs / "gateway.log")
        started.append(gateway)
        gateway.wait_ready(60)
        servers.say(f"✓ web chat        http://127.0.0.1:{gateway_port}/   (log {_shown(logs / 'gateway.log')})")
        if sys.stdin.isatty():
            terminal_chat(rasa.url, f"http://127.0.0.1:{gateway_port}")
        else:
            servers.say("no terminal attached: servers keep running until Ctrl-C / SIGTERM")
            while all(s.proc.poll() is None for s in started):
                time.sleep(0.5)
            dead = next(s for s in started if s.proc.poll() is not None)
            servers.say(f"✗ {dead.name} exited with {dead.proc.returncode}", err=True)
            return 1
    except KeyboardInterrupt:
        pass
    except (RuntimeError, TimeoutError) as exc:
        servers.say(f"✗ {exc}", err=True)
        return 1
    finally:
        # stop first, talk after: the terminal or the pipe may be gone
        stop_all(started)
        servers.say("\nstopped.")
    return 0


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
