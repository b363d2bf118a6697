"""Referrals under load and under a crash, through a real action server process."""
import json
import signal
import sqlite3
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from scripts import servers

FILLED = {
    "referral_kind": "mediation", "consent": True, "dispute_type": "邻里", "town": "溪翁庄镇", "village": "走马庄村",
    "description": "邻居的树挡了我家的光", "involvement": "none", "name": "赵", "phone": "13700001111",
    "contact_time": "上午", "confirm": "yes",
}


def submit(action_url: str, key: str, sender: str, timeout: float = 30) -> dict:
    """What Rasa sends the action server when the form is confirmed."""
    body = {
        "next_action": "action_submit_referral",
        "sender_id": sender,
        "tracker": {
            "sender_id": sender, "slots": {**FILLED, "referral_key": key},
            "latest_message": {"text": "确认提交", "intent": {"name": "affirm"}, "entities": []},
            "events": [], "paused": False, "followup_action": None, "active_loop": {}, "latest_action_name": "mediation_form",
        },
        "domain": {}, "version": "3.6.2",
    }
    req = urllib.request.Request(action_url + "/webhook", json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())


def ref_of(response: dict) -> str:
    import re

    return re.search(r"MY-\d{4}-\d{6}", response["responses"][0]["text"]).group(0)


def start_private_action_server(tmp_path: Path, session_var: Path) -> tuple[servers.Server, Path]:
    """An action server over a fresh runtime store and a copy of the published content."""
    var = tmp_path / "var"
    var.mkdir()
    (var / "content.db").write_bytes((session_var / "content.db").read_bytes())
    server = servers.start_actions(servers.free_port(), tmp_path / "actions.log", MIYUN_VAR_DIR=str(var))
    server.wait_ready(60)
    return server, var


@pytest.fixture()
def action_server(tmp_path: Path, session_var: Path):
    server, var = start_private_action_server(tmp_path, session_var)
    yield server, var
    server.stop()


def test_100_simultaneous_submissions_get_100_unique_numbers(action_server):
    server, var = action_server
    with ThreadPoolExecutor(max_workers=100) as pool:
        responses = list(pool.map(lambda i: submit(server.url, f"key-{i}", f"wx:user{i}"), range(100)))
    refs = [ref_of(r) for r in responses]
    assert len(set(refs)) == 100
    rows = sqlite3.connect(var / "runtime.db").execute("select ref from referrals").fetchall()
    assert sorted(r[0] for r in rows) == sorted(refs)


def test_a_resent_confirmation_creates_no_second_referral(action_server):
    server, var = action_server
    with ThreadPoolExecutor(max_workers=10) as pool:
        refs = set(pool.map(lambda i: ref_of(submit(server.url, "same-conversation", "wx:same")), range(10)))
    assert len(refs) == 1
    assert sqlite3.connect(var / "runtime.db").execute("select count(*) from referrals").fetchone()[0] == 1


def test_kill_9_during_writes_loses_no_confirmed_referral(tmp_path, session_var):
    server, var = start_private_action_server(tmp_path, session_var)
    confirmed: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                ref = ref_of(submit(server.url, f"crash-{n}-{i}", f"wx:c{n}", timeout=5))
            except Exception:
                return  # the server died mid-request: that referral was never confirmed
            with lock:
                confirmed.append(ref)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(confirmed) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.stop(signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join(10)
    assert len(confirmed) >= 40, "the writers should have confirmed some referrals before the kill"
    conn = sqlite3.connect(var / "runtime.db")
    assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
    saved = {r[0] for r in conn.execute("select ref from referrals")}
    assert set(confirmed) <= saved
