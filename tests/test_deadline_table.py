"""content/deadlines.yml: shipped table valid and complete; errors located by file › entry › field; kinds detected."""
from pathlib import Path

import pytest
import yaml

from miyun.deadlines import rules
from miyun.knowledge import content
from miyun.text import normalize

ROOT = Path(__file__).resolve().parent.parent


def _table() -> dict:
    entries, problems = rules.validate(yaml.safe_load((ROOT / "content" / "deadlines.yml").read_text(encoding="utf-8")))
    assert problems == []
    return rules.table(entries)


def test_the_eleven_deadlines_of_the_issue_with_their_lengths():
    t = _table()
    assert {k: (d.length, d.unit) for k, d in t.items()} == {
        "reconsideration": (60, "day"), "admin_litigation": (6, "month"), "labour_arbitration": (1, "year"),
        "limitation": (3, "year"), "injury_recognition": (1, "year"), "disclosure_reply": (20, "workday"),
        "appeal_judgment": (15, "day"), "appeal_ruling": (10, "day"),
        "accident_review": (3, "workday"),            # 道路交通事故处理程序规定第112条: 三日 = working days
        "enforcement": (2, "year"), "judicial_confirmation": (30, "day"),
    }
    assert t["disclosure_reply"].extension == {"length": 20, "unit": "workday", "text": t["disclosure_reply"].extension["text"]}
    assert all(d.legal_basis and all(b["articles"] for b in d.legal_basis) and d.verified for d in t.values())


def test_published_with_the_content():
    loaded = content.load(ROOT / "content")
    assert loaded.problems == [] and len(loaded.settings["deadlines"]) == len(rules.KINDS)


def _problems(content_copy: Path, mutate) -> list[str]:
    path = content_copy / "deadlines.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    mutate(data["deadlines"])
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return [str(p) for p in content.load(content_copy).problems]


def test_errors_name_file_entry_and_field(content_copy):
    def mutate(entries):
        entries[0]["unit"] = "week"
        entries[1]["length"] = 0
        entries[2]["legal_basis"] = [{"law": "中华人民共和国劳动争议调解仲裁法", "articles": []}]
        entries[3]["verified"] = False
        del entries[4]["trigger"]
        entries[5]["extension"]["unit"] = "days"
    problems = _problems(content_copy, mutate)
    assert any(p.startswith("deadlines.yml › reconsideration › unit:") for p in problems)
    assert any(p.startswith("deadlines.yml › admin_litigation › length:") for p in problems)
    assert any(p.startswith("deadlines.yml › labour_arbitration › legal_basis[1].articles:") for p in problems)
    assert any(p.startswith("deadlines.yml › limitation › verified:") for p in problems)
    assert any(p.startswith("deadlines.yml › injury_recognition › trigger:") for p in problems)
    assert any(p.startswith("deadlines.yml › disclosure_reply › extension.unit:") for p in problems)


def test_a_missing_or_unknown_kind_is_reported(content_copy):
    def mutate(entries):
        entries.pop()                                   # judicial_confirmation
        entries[0]["kind"] = "reconsider"
    problems = _problems(content_copy, mutate)
    assert any("judicial_confirmation › kind:" in p for p in problems)
    assert any("reconsider › kind:" in p and "未知" in p for p in problems)


@pytest.mark.parametrize("text, kind", [
    ("我是9月10号收到罚款决定书的，复议最晚哪天", "reconsideration"),
    ("对征收决定不服想起诉政府，最晚哪天", "admin_litigation"),
    ("被公司辞退了，劳动仲裁最晚什么时候", "labour_arbitration"),
    ("借钱不还，诉讼时效到哪天", "limitation"),
    ("工伤认定最晚哪天申请", "injury_recognition"),
    ("信息公开申请多少天答复", "disclosure_reply"),
    ("收到一审判决书，上诉最晚哪天", "appeal_judgment"),
    ("收到驳回起诉的裁定书，上诉最晚哪天", "appeal_ruling"),
    ("对事故认定书不服，复核最晚哪天", "accident_review"),
    ("对方不履行判决，申请强制执行最晚哪天", "enforcement"),
    ("调解协议申请司法确认最晚哪天", "judicial_confirmation"),
    ("複議最晚哪天", "reconsideration"),
])
def test_kind_detection(text, kind):
    assert rules.detect(normalize(text), _table()).kind == kind


def test_no_kind_named():
    guess = rules.detect("我9月10号收到的，最晚哪天", _table())
    assert guess.kind is None and guess.candidates == []


@pytest.mark.parametrize("text, kind", [
    ("我不打算申请复议了，想直接告到法院，决定是6月3号送来的，最晚哪天", "admin_litigation"),
    ("去年5月6号被辞退，仲裁时效到啥时候", "labour_arbitration"),
    ("对不予认定工伤的决定不服要复议，最晚哪天", "reconsideration"),
    ("征收决定想打行政官司，最晚哪天", "admin_litigation"),
    ("他借钱一直没还，最晚哪天之前起诉", "limitation"),
])
def test_kind_detection_harder_wordings(text, kind):
    assert rules.detect(normalize(text), _table()).kind == kind
