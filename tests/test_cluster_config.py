"""Cluster defaults (issue 15): nginx proxies only the REST channel and the health paths, PostgreSQL never
trusts, the WeChat token is never a public default. Rendered configs, plus real nginx / PostgreSQL runs."""
from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from scripts import pg_auth, servers
from scripts.cluster import Cluster, Ports


def _cluster(tmp_path: Path, **kw) -> Cluster:
    return Cluster(base=tmp_path / "cluster", quiet=True, **kw)


def _locations(conf: str, port: int) -> dict[str, str]:
    """location → body of the server block listening on `port`."""
    block = conf.split(f"listen 127.0.0.1:{port};", 1)[1].split("\n    server {", 1)[0]
    out, depth, name, body = {}, 0, None, []
    for line in block.splitlines():
        m = re.match(r"\s*location\s+(.+?)\s*\{\s*$", line)
        if m and depth == 0:
            name, body, depth = m.group(1), [], 1
            continue
        if name is not None:
            depth += line.count("{") - line.count("}")
            if depth <= 0:
                out[name], name, depth = "\n".join(body), None, 0
            else:
                body.append(line)
    return out


def test_nginx_proxies_only_the_webhook_and_health(tmp_path):
    cluster = _cluster(tmp_path)
    conf = cluster.nginx_conf()
    rasa = _locations(conf, cluster.ports.rasa_lb)
    assert set(rasa) == {"/", "= /", "= /webhooks/rest/webhook"}
    assert "return 404" in rasa["/"] and "proxy_pass" not in rasa["/"]
    assert "proxy_pass http://rasa" in rasa["= /webhooks/rest/webhook"] and "proxy_pass http://rasa" in rasa["= /"]
    actions = _locations(conf, cluster.ports.actions_lb)
    assert set(actions) == {"/", "= /health", "= /webhook"} and "proxy_pass" not in actions["/"]


def test_cluster_secrets_wechat_token_and_rasa_token(tmp_path, monkeypatch):
    monkeypatch.delenv("WECHAT_TOKEN", raising=False)
    cluster = _cluster(tmp_path)
    assert cluster.wechat_token and cluster.wechat_token != "miyun_cluster_token" and len(cluster.wechat_token) >= 32
    secrets_file = tmp_path / "cluster" / "secrets.env"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert f"MIYUN_CLUSTER_WECHAT_TOKEN={cluster.wechat_token}" in secrets_file.read_text()
    assert _cluster(tmp_path).wechat_token == cluster.wechat_token          # stable across starts
    monkeypatch.setenv("WECHAT_TOKEN", "operator-chosen-token")
    assert _cluster(tmp_path).wechat_token == "operator-chosen-token"
    assert cluster.rasa_server_env()["MIYUN_RASA_TOKEN"] == cluster.rasa_token and cluster.rasa_token
    assert "miyun_cluster_token" not in Path("scripts/cluster.py").read_text()


def test_cluster_start_message_never_prints_the_wechat_token(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("WECHAT_TOKEN", raising=False)
    cluster = Cluster(base=tmp_path / "cluster", quiet=False)
    monkeypatch.setattr(servers, "start_gateway", lambda *a, **k: type("S", (), {"wait_ready": lambda self, t: 0})())
    cluster.start_gateway()
    out = capsys.readouterr().out
    assert "secrets.env" in out and cluster.wechat_token not in out


def test_pg_auth_files_never_trust():
    hba = pg_auth.pg_hba()
    rules = [line.split() for line in hba.splitlines() if line.strip() and not line.startswith("#")]
    assert rules and all(r[-1] != "trust" and "trust" not in r for r in rules)
    assert ["local", "all", "postgres", "peer", f"map={pg_auth.ADMIN_MAP}"] in rules
    assert all(r[-1] == "scram-sha-256" for r in rules if r[0] == "host")
    ident = pg_auth.pg_ident("root")
    assert f"{pg_auth.ADMIN_MAP}  root  postgres" in ident and ident.count("postgres  postgres") == 1


def test_pg_socket_dir_is_private(tmp_path):
    run = tmp_path / "run"
    run.mkdir(mode=0o777)
    pg_auth.private_socket_dir(run)
    assert stat.S_IMODE(run.stat().st_mode) == 0o700


@pytest.fixture(scope="module")
def throwaway():
    from scripts import pg_throwaway

    reason = pg_throwaway.available()
    if reason:
        pytest.skip(reason)
    base = pg_throwaway.make_base("miyun-pgauth-")
    try:
        with pg_throwaway.throwaway_postgres(base) as dsn:
            yield base, dsn
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_throwaway_postgres_needs_passwords(throwaway):
    import psycopg

    base, dsn = throwaway
    run = base / "run"
    assert stat.S_IMODE(run.stat().st_mode) == 0o700
    port = int(dsn.rsplit(":", 1)[1].split("/")[0])
    with psycopg.connect(dsn) as conn:                        # the right password works
        assert conn.execute("select 1").fetchone() == (1,)
    for kwargs in (dict(host="127.0.0.1", user="miyun", password="wrong"),
                   dict(host="127.0.0.1", user="postgres", password=""),
                   dict(host=str(run), user="miyun", password=""),
                   dict(host="127.0.0.1", user="miyun", password="")):
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(port=port, dbname="miyun_test", connect_timeout=5, **kwargs).close()
    hba = (base / "data" / "pg_hba.conf").read_text()
    assert "trust" not in hba.replace("no trust lines", "")


def test_real_nginx_refuses_rasa_api(tmp_path):
    """The rendered config under the real nginx, with a fake Rasa behind it."""
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if not nginx:
        pytest.skip("nginx not installed (scripts/cluster_setup.sh)")
    import sys
    sys.path.insert(0, str(Path(__file__).parent / "channels"))
    from channel_fakes import FakeRasa, ServerThread

    fake = ServerThread(FakeRasa().app).start()
    ports = Ports(rasa=(fake.port,), actions=(fake.port,), rasa_lb=servers.free_port(), actions_lb=servers.free_port())
    cluster = Cluster(base=tmp_path / "c", ports=ports, quiet=True)
    cluster.logs.mkdir(parents=True, exist_ok=True)
    try:
        cluster.start_nginx()
        lb = cluster.rasa_lb_url
        with httpx.Client(trust_env=False, timeout=10) as c:
            r = c.post(lb + "/webhooks/rest/webhook", json={"sender": "s", "message": "你好"})
            assert r.status_code == 200 and r.json()
            assert c.get(lb + "/").status_code == 200
            for method, path in (("GET", "/conversations/s/tracker"), ("POST", "/conversations/s/tracker/events"),
                                 ("PUT", "/model"), ("GET", "/status"), ("POST", "/model/parse"),
                                 ("GET", "/webhooks/rest/webhook"), ("GET", "/webhooks/rest/webhook/../../status")):
                assert c.request(method, lb + path).status_code in (403, 404, 405), path
            actions = f"http://127.0.0.1:{ports.actions_lb}"
            assert c.get(actions + "/actions").status_code == 404
    finally:
        cluster.stop()
        fake.stop()
