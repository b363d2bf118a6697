"""Console behaviour over HTTP (Starlette TestClient): sessions, CSRF, login limits, content editing with
validation and conflict detection, publishing, referrals, unanswered questions, dashboard, audit."""
from __future__ import annotations

import csv
import io
import re

import yaml

from miyun.knowledge import content_edit
from miyun.knowledge.store import ContentStore


def _form(client, url: str) -> dict:
    """The hidden inputs of the first console form on a page."""
    html = client.get(url).text
    return dict(re.findall(r'<input type="hidden" name="(csrf|checksum)" value="([^"]*)"', html))


# ---------------------------------------------------------------- sessions, CSRF, login limits

def test_session_cookie_flags(make_env):
    env = make_env()
    _, r = env.login("ed")
    cookie = r.headers["set-cookie"]
    assert "miyun_staff=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Max-Age=28800" in cookie and "Path=/staff" in cookie and "Secure" not in cookie
    secure = make_env(secure_cookies=True, session_hours=1)
    _, r = secure.login("ed")
    assert "Secure" in r.headers["set-cookie"] and "Max-Age=3600" in r.headers["set-cookie"]


def test_csrf_missing_or_wrong_is_rejected(env):
    ed = env.client("editor")
    other, _ = env.login("adm")
    for data in ({}, {"csrf": ""}, {"csrf": "forged-token"}, {"csrf": env.csrf(other)}):
        r = ed.post("/staff/publish", data={**data, "note": "should not publish"})
        assert r.status_code == 403
    assert env.audit("content.publish") == []
    # the login form has its own token too
    anon = env.anonymous()
    anon.get("/staff/login")
    assert anon.post("/staff/login", data={"name": "ed", "password": env.PASSWORDS["ed"]}).status_code == 403
    assert anon.post("/staff/login", data={"csrf": "x", "name": "ed", "password": env.PASSWORDS["ed"]}).status_code == 403


def test_login_rate_limit_per_account(env):
    for _ in range(5):
        _, r = env.login("ed", "wrong-password")
        assert r.status_code == 401 and "用户名或密码不正确" in r.text
    _, r = env.login("ed")                                   # right password, but locked for the window
    assert r.status_code == 429 and "miyun_staff=" not in r.headers.get("set-cookie", "")
    _, r = env.login("adm")                                  # other accounts are not affected
    assert r.status_code == 303


def test_login_rate_limit_per_ip(make_env):
    env = make_env(login_max_per_ip=3)
    for name in ("nobody1", "nobody2", "nobody3"):
        assert env.login(name, "x")[1].status_code == 401
    assert env.login("adm")[1].status_code == 429


def test_unknown_and_disabled_users_cannot_log_in(env):
    assert env.login("ghost", "whatever-123")[1].status_code == 401
    ed = env.client("editor")
    env.users.update_user("ed", "pytest", disabled=True)
    assert env.login("ed")[1].status_code == 401
    assert ed.get("/staff/content").status_code == 303                   # the open session ended too


def test_session_expires(make_env):
    env = make_env()
    client = env.client("editor")
    assert client.get("/staff/content").status_code == 200
    env.users.expire_sessions_now()
    r = client.get("/staff/content")
    assert r.status_code == 303 and "/staff/login" in r.headers["location"]
    assert client.post("/staff/publish", data={"note": "x"}).status_code == 403


def test_login_redirects_only_inside_the_console(env):
    client = env.anonymous()
    page = client.get("/staff/login?next=https://evil.example/")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = client.post("/staff/login", data={"csrf": token, "name": "ed", "password": env.PASSWORDS["ed"],
                                          "next": "https://evil.example/"})
    assert r.headers["location"] == "/staff/"
    assert env.audit("login")[0]["actor"] == "ed"


# ---------------------------------------------------------------- content

def test_content_list_filters(shared_env):
    ed = shared_env.client("editor")
    all_rows = ed.get("/staff/content").text
    assert "hotline" in all_rows and "labour-unpaid-wages" in all_rows and "gubeikou" in all_rows
    services = ed.get("/staff/content?kind=services").text
    assert "hotline" in services and "labour-unpaid-wages" not in services
    labour = ed.get("/staff/content", params={"category": "劳动就业"}).text
    assert "labour-unpaid-wages" in labour and "admin-penalty-reconsideration" not in labour
    stale = ed.get("/staff/content?stale=1").text
    assert "district-centre" in stale and "labour-unpaid-wages" not in stale      # never verified vs. verified
    unverified = ed.get("/staff/content?verified=no").text
    assert "district-centre" in unverified and "hotline" not in unverified
    assert "labour-unpaid-wages" in ed.get("/staff/content", params={"q": "拖欠工资"}).text


def test_edit_validates_with_content_rules_and_names_the_field(env):
    ed = env.client("editor")
    hidden = _form(ed, "/staff/content/articles/labour-unpaid-wages")
    path = env.core.content_dir / "articles" / "labour.yml"
    before = path.read_bytes()
    r = ed.post("/staff/content/articles/labour-unpaid-wages/save",
                data={**hidden, "answer": "太短了", "legal_basis": "中华人民共和国劳动法: 五十", "verified": "2026-02-30"})
    assert r.status_code == 422
    assert "回答应为 150–400 字" in r.text and "条文号应为正整数列表" in r.text and "日期格式错误" in r.text
    assert path.read_bytes() == before and env.audit("content.save") == []


def test_edit_saves_round_trip_and_audits(env):
    ed = env.client("editor")
    hidden = _form(ed, "/staff/content/services/hotline")
    path = env.core.content_dir / "services.yml"
    original = path.read_text(encoding="utf-8")
    r = ed.post("/staff/content/services/hotline/save", data={**hidden, "title": "12348公共法律服务热线（新）"})
    assert r.status_code == 303 and "msg=" in r.headers["location"]
    text = path.read_text(encoding="utf-8")
    changed = [(a, b) for a, b in zip(original.splitlines(), text.splitlines()) if a != b]
    assert changed == [("    title: 12348公共法律服务热线", "    title: 12348公共法律服务热线（新）")]   # comments, order kept
    row = env.audit("content.save")[0]
    assert row["actor"] == "ed" and row["target"] == "services/hotline"
    assert "12348公共法律服务热线（新）" in row["after"] and "12348公共法律服务热线" in row["before"]


def test_save_is_refused_when_the_file_changed_on_disk(env):
    ed = env.client("editor")
    hidden = _form(ed, "/staff/content/services/hotline")
    path = env.core.content_dir / "services.yml"
    hand_edit = path.read_text(encoding="utf-8").replace("# Answers to the service intents.", "# Answers (hand edit).")
    path.write_text(hand_edit, encoding="utf-8")
    r = ed.post("/staff/content/services/hotline/save", data={**hidden, "title": "控制台的改动"})
    assert r.status_code == 409 and "已被修改" in r.text and "控制台的改动" in r.text   # the draft is kept in the form
    assert path.read_text(encoding="utf-8") == hand_edit
    r = ed.post("/staff/content/services/hotline/verify", data=hidden)
    assert "err=" in r.headers["location"] and path.read_text(encoding="utf-8") == hand_edit


def test_mark_verified_records_the_user(env):
    ed = env.client("editor")
    hidden = _form(ed, "/staff/content/stations/gulou")
    r = ed.post("/staff/content/stations/gulou/verify", data=hidden)
    assert r.status_code == 303 and "msg=" in r.headers["location"]
    _, entry, _ = content_edit.read_entry(env.core.content_dir, "stations", "gulou")
    import datetime as dt
    assert entry["verified"] == dt.date.today() and entry["verified_by"] == "ed"
    assert env.audit("content.verify")[0]["actor"] == "ed"
    assert "上次核实人：ed" in ed.get("/staff/content/stations/gulou").text


def test_preview_answers_from_the_draft_without_saving(env):
    ed = env.client("editor")
    page = "/staff/content/articles/labour-unpaid-wages"
    hidden = _form(ed, page)
    _, entry, _ = content_edit.read_entry(env.core.content_dir, "articles", "labour-unpaid-wages")
    draft = "草稿标记" + entry["answer"][4:]
    r = ed.post(page + "/preview", data={**hidden, "answer": draft, "question": "老板不给工钱怎么办"})
    assert r.status_code == 200 and "预览结果" in r.text and "草稿标记" in r.text and "labour-unpaid-wages" in r.text
    assert "草稿标记" not in (env.core.content_dir / "articles" / "labour.yml").read_text(encoding="utf-8")
    r = ed.post(page + "/preview", data={**hidden, "answer": "太短", "question": "x"})
    assert "草稿未通过检查" in r.text


def test_publish_diff_versions_and_rollback(env):
    ed = env.client("editor")
    hidden = _form(ed, "/staff/content/services/hotline")
    ed.post("/staff/content/services/hotline/save", data={**hidden, "title": "热线（发布测试）"})
    page = ed.get("/staff/publish").text
    assert "hotline" in page and "title" in page                                   # the pending diff
    csrf = hidden["csrf"]
    assert "err=" in ed.post("/staff/publish", data={"csrf": csrf, "note": ""}).headers["location"]
    r = ed.post("/staff/publish", data={"csrf": csrf, "note": "改标题"})
    assert "msg=" in r.headers["location"]
    live = ContentStore(env.core.content_db)
    assert live.service("hotline")["title"] == "热线（发布测试）"
    assert env.audit("content.publish")[0]["target"] == "v2"
    assert "改标题" in ed.get("/staff/publish").text and "title" in ed.get("/staff/versions/2").text
    r = ed.post("/staff/versions/1/rollback", data={"csrf": csrf})
    assert "msg=" in r.headers["location"]
    assert ContentStore(env.core.content_db).service("hotline")["title"] == "12348公共法律服务热线"
    assert env.audit("content.rollback")[0]["target"] == "v1"


def test_new_article_from_an_unanswered_group(env):
    ed = env.client("editor")
    page = ed.get("/staff/unanswered").text
    key = re.search(r'/content/new\?group=([0-9a-f]+)', page).group(1)
    form = ed.get(f"/staff/content/new?group={key}").text
    assert "养的羊被邻居毒死了" in form
    answer = "养的羊被他人毒死，可以要求侵权人赔偿损失。" * 8
    data = {"csrf": env.csrf(ed), "group": key, "id": "tort-poisoned-sheep", "title": "羊被毒死怎么赔",
            "category": "人身损害与侵权", "questions": "羊被毒死怎么赔\n邻居毒死我的羊\n牲畜被毒死找谁赔",
            "answer": answer, "legal_basis": "中华人民共和国民法典: 1165", "tags": "毒死、牲畜", "source": "中华人民共和国民法典",
            "verified": "false", "updated": "2026-01-05"}
    r = ed.post("/staff/content/new", data=data)
    assert r.status_code == 303, r.text
    _, entry, _ = content_edit.read_entry(env.core.content_dir, "articles", "tort-poisoned-sheep")
    assert entry["legal_basis"] == [{"law": "中华人民共和国民法典", "articles": [1165]}]
    assert "养的羊" not in ed.get("/staff/unanswered").text                         # the group is marked drafted
    assert env.audit("content.create")[0]["target"] == "articles/tort-poisoned-sheep"
    assert ed.post("/staff/content/new", data=data).status_code == 422              # the id now exists


# ---------------------------------------------------------------- unanswered, feedback, dashboard

def test_unanswered_groups_and_actions(env):
    ed = env.client("editor")
    page = ed.get("/staff/unanswered").text
    assert "× 2" in page and "无人机拍到邻居院子违法吗" in page
    keys = re.findall(r'name="group" value="([0-9a-f]+)"', page)
    csrf = env.csrf(ed)
    sheep, drone = keys[0], keys[-1]
    # link: the phrasing goes into the article's questions (< 8) or tags, validated and saved to the file
    r = ed.post("/staff/unanswered/link", data={"csrf": csrf, "group": sheep, "article": "labour-unpaid-wages",
                                                 "phrasing": "工钱被扣了怎么要"})
    assert "msg=" in r.headers["location"]
    _, entry, _ = content_edit.read_entry(env.core.content_dir, "articles", "labour-unpaid-wages")
    assert "工钱被扣了怎么要" in entry["questions"] + entry["tags"]
    assert env.audit("unanswered.link")[0]["target"] == "articles/labour-unpaid-wages"
    # export: Rasa NLU YAML for the next training, downloadable
    r = ed.post("/staff/unanswered/export", data={"csrf": csrf, "group": drone})
    assert "msg=" in r.headers["location"]
    data = yaml.safe_load(ed.get("/staff/nlu_export.yml").text)
    assert data["nlu"][0]["intent"] == "ask_legal_question" and "无人机拍到邻居院子违法吗" in data["nlu"][0]["examples"]
    assert "未答问题样本" not in ed.get("/staff/unanswered").text and "没有待处理" in ed.get("/staff/unanswered").text
    # dismiss persists
    env.runtime.log_unanswered("再来一个问题", "再来一个问题", "s", None, 1.0)
    key = re.findall(r'name="group" value="([0-9a-f]+)"', ed.get("/staff/unanswered").text)[0]
    ed.post("/staff/unanswered/dismiss", data={"csrf": csrf, "group": key})
    assert "再来一个问题" not in ed.get("/staff/unanswered").text
    assert env.runtime.query("select status from unanswered_status where status = 'dismissed'")
    assert env.audit("unanswered.dismiss") and env.audit("unanswered.export")
    assert "err=" in ed.post("/staff/unanswered/dismiss", data={"csrf": csrf, "group": "nope"}).headers["location"]


def test_feedback_list(shared_env):
    page = shared_env.client("editor").get("/staff/feedback").text
    assert "没帮助的意见样本" in page and "labour-unpaid-wages" in page and "<svg" in page


def test_dashboard_charts_and_rates(shared_env):
    admin = shared_env.client("admin").get("/staff/").text
    assert admin.count("<svg") == 4 and "ask_legal_question" in admin and "转介：按镇街" in admin
    assert ">5<" in admin                                    # user messages from the tracker store
    assert "100%" in admin and "50%" in admin               # 3 unanswered of 3 legal questions; 1 of 2 helpful
    editor = shared_env.client("editor").get("/staff/").text
    assert editor.count("<svg") == 2 and "转介" not in editor.split("</nav>")[1]
    mediator = shared_env.client("mediator").get("/staff/").text
    assert shared_env.OWN_TOWN in mediator and shared_env.OTHER_TOWN not in mediator.split("</header>")[1]


def test_dashboard_without_tracker_store_shows_zeros(make_env, tmp_path):
    env = make_env(tracker_db=tmp_path / "missing.db")
    page = env.client("admin").get("/staff/").text
    assert "<svg" in page and ">0<" in page


# ---------------------------------------------------------------- referrals

def test_mediator_sees_only_own_towns(shared_env):
    med = shared_env.client("mediator")
    own, other = shared_env.refs["own"], shared_env.refs["other"]
    page = med.get("/staff/referrals").text
    assert own in page and "139****5678" in page and other not in page and "13800001111" not in page
    assert "13912345678" not in page                                   # lists mask phones; the detail page shows it
    # "not yours" and "does not exist" are the same answer
    not_mine, missing = med.get(f"/staff/referrals/{other}"), med.get("/staff/referrals/MY-2026-999999")
    assert not_mine.status_code == missing.status_code == 404 and not_mine.text == missing.text
    assert "13800001111" not in not_mine.text
    r = med.get(f"/staff/referrals?town={shared_env.OTHER_TOWN}")
    assert r.status_code == 403 and "13800001111" not in r.text
    csv_text = med.get("/staff/referrals.csv").content.decode("utf-8-sig")
    assert own in csv_text and other not in csv_text
    detail = med.get(f"/staff/referrals/{own}").text
    assert "王大爷" in detail and "宅基地吵架的经过" in detail and "工作日下午" in detail
    admin = shared_env.client("admin").get("/staff/referrals").text
    assert own in admin and other in admin


def test_csv_export_has_bom_and_filters(shared_env):
    r = shared_env.client("admin").get("/staff/referrals.csv", params={"town": shared_env.OTHER_TOWN})
    assert r.content.startswith(b"\xef\xbb\xbf") and "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][0] == "ref" and len(rows) == 2 and rows[1][0] == shared_env.refs["other"] and "13800001111" in rows[1]
    by_date = shared_env.client("admin").get("/staff/referrals.csv", params={"until": "2000-01-01"})
    assert len(list(csv.reader(io.StringIO(by_date.content.decode("utf-8-sig"))))) == 1


def test_referral_update_requires_note_and_is_audited(env):
    med = env.client("mediator")
    ref = env.refs["own"]
    csrf = env.csrf(med)
    r = med.post(f"/staff/referrals/{ref}/update", data={"csrf": csrf, "status": "contacted", "note": ""})
    assert "err=" in r.headers["location"] and env.runtime.referral(ref)["status"] == "received"
    r = med.post(f"/staff/referrals/{ref}/update", data={"csrf": csrf, "status": "contacted", "note": "已电话联系",
                                                         "assigned_to": "med2"})
    assert "msg=" in r.headers["location"]
    row = env.runtime.referral(ref)
    assert row["status"] == "contacted" and row["assigned_to"] == "med2"
    trail = env.runtime.audit(ref)
    assert trail[-1]["actor"] == "med" and trail[-1]["note"] == "已电话联系" and "contacted" in trail[-1]["after"]
    assert env.audit("referral.update")[0]["target"] == ref
    # no going back, and only mediators of that town can be assigned
    assert "err=" in med.post(f"/staff/referrals/{ref}/update", data={"csrf": csrf, "status": "received", "note": "x"}).headers["location"]
    assert "err=" in med.post(f"/staff/referrals/{ref}/update", data={"csrf": csrf, "assigned_to": "adm", "note": "x"}).headers["location"]
    r = med.post(f"/staff/referrals/{env.refs['other']}/update", data={"csrf": csrf, "status": "contacted", "note": "x"})
    assert r.status_code == 404 and env.runtime.referral(env.refs["other"])["status"] == "received"


def test_export_and_anonymize_are_audited(env):
    admin = env.client("admin")
    admin.get("/staff/referrals.csv")
    assert env.audit("referral.export")[0]["actor"] == "adm"
    env.runtime.query("select 1")
    with env.runtime.transaction() as conn:
        conn.execute("update referrals set created_at = '2020-01-01T00:00:00+08:00' where ref = ?", (env.refs["other"],))
    r = admin.post("/staff/referrals/anonymize", data={"csrf": env.csrf(admin)})
    assert "msg=" in r.headers["location"]
    row = env.runtime.referral(env.refs["other"])
    assert row["anonymized"] == 1 and row["phone"] is None and env.runtime.referral(env.refs["own"])["phone"]
    assert '"count": 1' in env.audit("referral.anonymize")[0]["after"]


# ---------------------------------------------------------------- users and audit

def test_admin_manages_users(env):
    admin = env.client("admin")
    csrf = env.csrf(admin)
    r = admin.post("/staff/users", data={"csrf": csrf, "name": "zhao", "role": "mediator", "password": "zhao-password-1"})
    assert "err=" in r.headers["location"]                                          # a mediator needs towns
    r = admin.post("/staff/users", data={"csrf": csrf, "name": "zhao", "role": "mediator", "towns": ["北庄镇", "石城镇"],
                                         "password": "zhao-password-1"})
    assert "msg=" in r.headers["location"] and env.users.user("zhao")["towns"] == ["北庄镇", "石城镇"]
    assert env.login("zhao", "zhao-password-1")[1].status_code == 303
    admin.post("/staff/users/zhao", data={"csrf": csrf, "action": "password", "password": "new-password-22"})
    assert env.login("zhao", "zhao-password-1")[1].status_code == 401
    admin.post("/staff/users/zhao", data={"csrf": csrf, "action": "disable"})
    assert env.users.user("zhao")["disabled"] and env.login("zhao", "new-password-22")[1].status_code == 401
    assert "err=" in admin.post("/staff/users/adm", data={"csrf": csrf, "action": "disable"}).headers["location"]
    actions = [r["action"] for r in env.users.audit_rows(100) if r["target"] == "zhao"]
    assert actions.count("user.update") == 2 and "user.create" in actions
    page = admin.get("/staff/audit?action=user").text
    assert "zhao" in page and "password_hash" in page and "argon2" not in page      # hashes never shown


def test_every_write_leaves_an_audit_row(env):
    """One of each write; the audit log then names who did what."""
    ed, admin = env.client("editor"), env.client("admin")
    hidden = _form(ed, "/staff/content/services/hotline")
    ed.post("/staff/content/services/hotline/save", data={**hidden, "title": "审计测试"})
    ed.post("/staff/publish", data={"csrf": hidden["csrf"], "note": "审计"})
    ed.post("/staff/versions/1/rollback", data={"csrf": hidden["csrf"]})
    med = env.client("mediator")
    med.post(f"/staff/referrals/{env.refs['own']}/update", data={"csrf": env.csrf(med), "status": "contacted", "note": "n"})
    done = {(r["action"], r["actor"]) for r in env.users.audit_rows(1000)}
    for pair in (("content.save", "ed"), ("content.publish", "ed"), ("content.rollback", "ed"),
                 ("referral.update", "med"), ("login", "adm"), ("user.create", "pytest")):
        assert pair in done, pair
    assert "审计测试" in admin.get("/staff/audit").text


def test_dashboard_counts_documents_per_week_never_their_contents(make_env):
    import datetime as dt

    from miyun.documents.counts import DocumentCounts, iso_week

    env = make_env()
    counts = DocumentCounts(env.core.runtime_db)
    today = dt.date.today()
    for _ in range(3):
        counts.record("reconsideration", today)
    counts.record("labour-arbitration", today - dt.timedelta(days=7))
    page = env.client("editor").get("/staff/").text
    section = page.split('<section class="documents">')[1].split("</section>")[0]
    assert "行政复议申请书" in section and "劳动人事争议仲裁申请书" in section
    assert f"<td>{iso_week(today)}</td><td>0</td><td>3</td>" in section
    assert "文书内容不保存" in section


def test_aspects_are_edited_previewed_published_and_rolled_back(env):
    ed = env.client("editor")
    page = "/staff/content/services/hotline"
    html = ed.get(page).text
    assert 'name="aspect.fee.text"' in html and 'name="aspect.remedy.verified"' in html   # all nine, editable
    hidden = _form(ed, page)
    path = env.core.content_dir / "services.yml"
    before = path.read_text(encoding="utf-8")
    too_long = {**hidden, "aspect.fee.text": "长" * 121}
    r = ed.post(page + "/save", data=too_long)
    assert r.status_code == 422 and "最多 120 字" in r.text and path.read_text(encoding="utf-8") == before
    draft = {**hidden, "aspect.fee.text": "草稿：拨打12348咨询不收咨询费，只付普通通话费。", "aspect.fee.verified": "false"}
    r = ed.post(page + "/preview", data={**draft, "question": "打12348要钱吗"})
    assert r.status_code == 200 and "草稿：拨打12348咨询不收咨询费，只付普通通话费。（此项待工作人员核实" in r.text
    assert "草稿：" not in path.read_text(encoding="utf-8")                        # a preview saves nothing
    r = ed.post(page + "/save", data=draft)
    assert r.status_code == 303 and "msg=" in r.headers["location"]
    _, entry, _ = content_edit.read_entry(env.core.content_dir, "services", "hotline")
    assert entry["aspects"]["fee"]["text"].startswith("草稿：") and entry["aspects"]["fee"]["verified"] is False
    changed = [(a, b) for a, b in zip(before.splitlines(), path.read_text(encoding="utf-8").splitlines()) if a != b]
    assert len(changed) == 1 and "草稿：" in changed[0][1]                          # the fee text only, comment kept
    assert ed.post("/staff/publish", data={"csrf": hidden["csrf"], "note": "热线收费简答"}).status_code == 303
    assert ContentStore(env.core.content_db).service("hotline")["aspects"]["fee"]["text"].startswith("草稿：")
    ed.post("/staff/versions/1/rollback", data={"csrf": hidden["csrf"]})
    assert ContentStore(env.core.content_db).service("hotline")["aspects"]["fee"]["text"] is None   # unknown again
    assert path.read_text(encoding="utf-8") == before                              # the file is restored too
