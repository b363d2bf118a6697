"""Every CLI command runs, does what it says, and is documented in content/README.md."""
import csv
import re
from pathlib import Path

import pytest
import yaml

from miyun.knowledge import cli
from miyun.referrals import cli as referrals_cli
from miyun.referrals.sqlite import RuntimeStore

ROOT = Path(__file__).resolve().parent.parent
DOCS = (ROOT / "content" / "README.md").read_text(encoding="utf-8")


def _subcommands(parser):
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return list(action.choices)


@pytest.mark.parametrize("prog, parser", [("content", cli.parser()), ("referrals", referrals_cli.parser())])
def test_every_command_is_documented(prog, parser):
    for name in _subcommands(parser):
        assert f"`{prog} {name}" in DOCS, f"{prog} {name} missing from content/README.md"


def test_validate_build_publish_diff_rollback(isolated, capsys, content_copy):
    assert cli.main(["validate"]) == 0
    assert "content valid" in capsys.readouterr().out
    assert cli.main(["build"]) == 0
    assert cli.main(["publish", "--by", "张三", "--note", "初始"]) == 0
    assert "v1" in capsys.readouterr().out
    assert cli.main(["diff"]) == 0 and "no changes" in capsys.readouterr().out
    path = content_copy / "services.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["services"][0]["title"] = "新标题"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    cli.main(["diff"])
    assert f"~ services/{data['services'][0]['id']}: title" in capsys.readouterr().out
    assert cli.main(["publish", "--by", "李四", "--note", "改标题"]) == 0
    assert cli.main(["versions"]) == 0
    out = capsys.readouterr().out
    assert "李四: 改标题" in out and "张三: 初始" in out
    assert cli.main(["rollback"]) == 0 and "rolled back" in capsys.readouterr().out
    assert cli.main(["rollback", "99"]) == 1


def test_validate_reports_and_fails(isolated, capsys, content_copy):
    (content_copy / "articles" / "broken.yml").write_text("articles:\n  - id: x\n", encoding="utf-8")
    assert cli.main(["validate"]) == 1
    assert "broken.yml › x › title" in capsys.readouterr().out
    assert cli.main(["publish", "--by", "a", "--note", "b"]) == 1


def test_search_shows_scores(published, capsys):
    assert cli.main(["search", "房东扣着押金不退"]) == 0
    out = capsys.readouterr().out
    assert "bm25=" in out and "housing-deposit-withheld" in out and "the bot would answer" in out


def test_unanswered_groups_and_exports(published, capsys, tmp_path):
    store = RuntimeStore(published.runtime_db)
    for q in ["我的专利被人抄了怎么办", "专利被人抄了怎么办呢", "怎么注册商标"]:
        store.log_unanswered(q, q, None, None, 0.0)
    assert cli.main(["unanswered"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^\s+2\s+我的专利被人抄了怎么办", out, re.M)
    target = tmp_path / "u.csv"
    assert cli.main(["unanswered", "--csv", str(target)]) == 0
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")
    assert list(csv.reader(target.open(encoding="utf-8-sig")))[1][0] == "2"


def test_stale_lists_unverified(published, capsys):
    assert cli.main(["stale"]) == 0
    assert "stations" in capsys.readouterr().out


def _referral(published) -> str:
    row, _ = RuntimeStore(published.runtime_db).create_referral(
        "cli-key", {"kind": "mediation", "town": "北庄镇", "dispute_type": "邻里", "name": "孙", "phone": "13600002222",
                    "description": "邻居的狗总叫"}, 2026)
    return row["ref"]


def test_referrals_list_show_update_export(published, capsys, tmp_path):
    ref = _referral(published)
    assert referrals_cli.main(["list", "--town", "北庄镇"]) == 0 and ref in capsys.readouterr().out
    assert referrals_cli.main(["update", ref, "--status", "contacted", "--by", "调解员甲", "--note", "已电话联系"]) == 0
    assert referrals_cli.main(["show", ref]) == 0
    out = capsys.readouterr().out
    assert "contacted" in out and "调解员甲" in out and "已电话联系" in out
    target = tmp_path / "r.csv"
    assert referrals_cli.main(["export", "--csv", str(target)]) == 0
    rows = list(csv.DictReader(target.open(encoding="utf-8-sig")))
    assert rows[0]["phone"] == "136****2222" and rows[0]["name"] == "***"
    assert referrals_cli.main(["export", "--csv", str(target), "--with-personal-data"]) == 0
    assert list(csv.DictReader(target.open(encoding="utf-8-sig")))[0]["phone"] == "13600002222"
    assert referrals_cli.main(["show", "MY-2026-999999"]) == 1
    assert referrals_cli.main(["update", ref, "--by", "x", "--note", "y"]) == 1


def test_referrals_anonymize(published, capsys):
    ref = _referral(published)
    assert referrals_cli.main(["anonymize", "--days", "0"]) == 0
    row = RuntimeStore(published.runtime_db).referral(ref)
    assert row["phone"] is None and row["name"] is None and row["anonymized"] == 1 and row["town"] == "北庄镇"


def test_every_setting_is_documented():
    source = (ROOT / "miyun" / "settings.py").read_text(encoding="utf-8")
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    names = set(re.findall(r'_(?:env|int|float|path|bool|str)\w*\(\s*"([A-Z][A-Z0-9_]+)"', source))
    assert len(names) > 10
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.M))
    assert names <= documented, f"undocumented settings: {sorted(names - documented)}"
