"""Console: a service's more facts are added, validated, previewed, published, rolled back and removed
over HTTP, like its aspects."""
from __future__ import annotations

import html
import re

from miyun.knowledge import content_edit
from miyun.knowledge.store import ContentStore

PAGE = "/staff/content/services/mediation"
DRAFT = "草稿：经当事人同意，调解员可以到当事人家里或纠纷发生地就地调解。"


def _fields(client, url: str) -> dict:
    """Every input and textarea of the edit form, as the browser would post them (checkboxes unchecked)."""
    page = client.get(url).text
    form = page.split('class="card edit">', 1)[1].split("</form>", 1)[0]
    out = {}
    for tag in re.findall(r"<input [^>]*>", form):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if name and 'type="checkbox"' not in tag:
            out[html.unescape(name.group(1))] = html.unescape(value.group(1)) if value else ""
    for name, value in re.findall(r'<textarea [^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        out[html.unescape(name)] = html.unescape(value)
    out.pop("question", None)
    return out


def _new_slot(fields: dict) -> int:
    return int(fields["mfacts.count"]) - 1


def test_more_facts_are_added_previewed_published_rolled_back_and_removed(env):
    ed = env.client("editor")
    path = env.core.content_dir / "services.yml"
    before = path.read_text(encoding="utf-8")
    fields = _fields(ed, PAGE)
    new = _new_slot(fields)
    assert new >= 3 and fields["mfact0.text"].startswith("调解协议书自各方当事人签名") and fields[f"mfact{new}.text"] == ""
    assert fields["mfact0.legal_basis"] == "中华人民共和国人民调解法: 29, 30"

    # the same validation as `content validate`, shown under the facts with the fact's number
    too_long = {**fields, "mfact0.text": "长" * 121}
    r = ed.post(PAGE + "/save", data=too_long)
    assert r.status_code == 422 and "第1条 text：最多 120 字" in r.text and path.read_text(encoding="utf-8") == before
    no_basis = {**fields, f"mfact{new}.questions": "调解员能上门吗\n调解能在家里办吗", f"mfact{new}.text": DRAFT}
    r = ed.post(PAGE + "/save", data=no_basis)
    assert r.status_code == 422 and f"第{new + 1}条 legal_basis：缺少法律依据" in html.unescape(r.text)

    draft = {**no_basis, f"mfact{new}.legal_basis": "中华人民共和国人民调解法: 21", f"mfact{new}.source": "人民调解法第二十一条",
             f"mfact{new}.verified": "false"}
    r = ed.post(PAGE + "/preview", data={**draft, "question": "调解员能不能上门"})
    page = html.unescape(r.text)
    assert r.status_code == 200 and DRAFT + "（此项待工作人员核实，请拨打12348确认）" in page and "按“更多事实”作答" in page
    assert "草稿：" not in path.read_text(encoding="utf-8")                      # a preview saves nothing

    r = ed.post(PAGE + "/save", data=draft)
    assert r.status_code == 303
    _, entry, _ = content_edit.read_entry(env.core.content_dir, "services", "mediation")
    added = entry["more_facts"][-1]
    assert added["text"] == DRAFT and added["verified"] is False and added["questions"] == ["调解员能上门吗", "调解能在家里办吗"]
    assert added["legal_basis"] == [{"law": "中华人民共和国人民调解法", "articles": [21]}]
    after = path.read_text(encoding="utf-8").splitlines()
    assert [line for line in before.splitlines() if line not in after] == []    # only added lines; the rest kept as it was

    csrf = fields["csrf"]
    assert ed.post("/staff/publish", data={"csrf": csrf, "note": "调解上门事实"}).status_code == 303
    assert ContentStore(env.core.content_db).service("mediation")["more_facts"][-1]["text"] == DRAFT
    ed.post("/staff/versions/1/rollback", data={"csrf": csrf})
    assert all(f["text"] != DRAFT for f in ContentStore(env.core.content_db).service("mediation")["more_facts"])
    assert path.read_text(encoding="utf-8") == before                             # the file is restored too

    # removing a fact: tick 删除; the others stay untouched
    fields = _fields(ed, PAGE)
    r = ed.post(PAGE + "/save", data={**fields, "mfact0.remove": "1"})
    assert r.status_code == 303
    _, entry, _ = content_edit.read_entry(env.core.content_dir, "services", "mediation")
    assert not any(f["text"].startswith("调解协议书自各方当事人签名") for f in entry["more_facts"])
    assert len(entry["more_facts"]) == _new_slot(fields) - 1
    assert [a for a in before.splitlines() if a not in path.read_text(encoding="utf-8").splitlines()
            and "more_facts" not in a][:1] != []                                  # the removed fact's lines are gone


def test_an_unchanged_form_changes_nothing(env):
    ed = env.client("editor")
    path = env.core.content_dir / "services.yml"
    before = path.read_text(encoding="utf-8")
    assert ed.post(PAGE + "/save", data=_fields(ed, PAGE)).status_code == 303
    assert path.read_text(encoding="utf-8") == before


def test_entries_without_aspects_show_no_facts(env):
    page = env.client("editor").get("/staff/content/services/capabilities").text
    assert "mfacts.count" not in page
