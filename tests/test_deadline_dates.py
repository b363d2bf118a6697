"""Residents' dates: formats, missing years, relative words, lunar dates, impossible dates."""
import datetime as dt

import pytest

from miyun.deadlines.dates import cn_number, find
from miyun.text import normalize

TODAY = dt.date(2026, 12, 1)     # a Tuesday
D = dt.date


@pytest.mark.parametrize("text, expected", [
    ("我是9月10号收到罚款决定书的", D(2026, 9, 10)),
    ("9.10收到的", D(2026, 9, 10)),
    ("2026.9.10", D(2026, 9, 10)),
    ("2026-09-10", D(2026, 9, 10)),
    ("2026/9/10", D(2026, 9, 10)),
    ("2026年9月10日", D(2026, 9, 10)),
    ("26年9月10日", D(2026, 9, 10)),
    ("九月十日", D(2026, 9, 10)),
    ("十二月三十一号", D(2025, 12, 31)),
    ("二〇二五年十二月三十一日", D(2025, 12, 31)),
    ("去年12月31号", D(2025, 12, 31)),
    ("上个月3号", D(2026, 11, 3)),
    ("上上个月30号", D(2026, 10, 30)),
    ("这个月1号", D(2026, 12, 1)),
    ("上周五", D(2026, 11, 27)),
    ("上个星期一", D(2026, 11, 23)),
    ("周日收到的", D(2026, 11, 29)),
    ("今天", TODAY),
    ("昨天", D(2026, 11, 30)),
    ("前天", D(2026, 11, 29)),
    ("大前天", D(2026, 11, 28)),
    ("5天前", D(2026, 11, 26)),
    ("10/8", D(2026, 10, 8)),
])
def test_formats(text, expected):
    found = find(normalize(text), TODAY)
    assert found is not None and found.ok and found.date == expected, found


def test_missing_year_is_this_year_and_said():
    found = find("9月10号", TODAY)
    assert found.date == D(2026, 9, 10) and "按今年（2026年）算" in found.note


def test_missing_year_in_the_future_is_last_year_and_said():
    found = find("12月25号", TODAY)
    assert found.date == D(2025, 12, 25) and "还没到" in found.note and "按去年（2025年）算" in found.note


def test_slash_reading_is_said():
    assert "按10月8日（月/日）理解" in find("10/8", TODAY).note
    assert "按9月10日理解" in find("9.10", TODAY).note


def test_day_only_uses_this_or_last_month():
    assert find("1号收到的", TODAY).date == D(2026, 12, 1)
    found = find("3号收到的", TODAY)
    assert found.date == D(2026, 11, 3) and "上个月" in found.note


@pytest.mark.parametrize("text", ["九月初十", "农历八月十六", "腊月二十三", "八月十五"])
def test_lunar_dates_are_not_guessed(text):
    found = find(text, TODAY)
    assert found is not None and found.problem == "lunar" and found.date is None


def test_impossible_dates_are_named():
    found = find("2月30号", TODAY)
    assert found.problem == "impossible" and "2月30日" in found.note
    assert find("2025年2月29日", TODAY).problem == "impossible"
    assert find("2024年2月29日", TODAY).date == D(2024, 2, 29)


def test_month_without_day():
    assert find("今年3月受的伤", TODAY).problem == "month_only"


@pytest.mark.parametrize("text", ["罚款9.10元", "12348", "古北口镇的法律服务站在哪", "3号楼的邻居", ""])
def test_no_date(text):
    assert find(text, TODAY) is None


def test_traditional_characters_after_normalising():
    assert find(normalize("我是9月10號收到罰款決定書的"), TODAY).date == D(2026, 9, 10)
    assert find(normalize("２０２６年９月１０日"), TODAY).date == D(2026, 9, 10)


def test_leap_day_without_year():
    assert find("2月29号", D(2025, 3, 1)).date == D(2024, 2, 29)      # 2025 has none: last year, 2024
    # 2026 and 2025 have no 29 February: the date is reported, not moved
    assert find("2月29号", TODAY).problem == "impossible"


@pytest.mark.parametrize("text, n", [("十", 10), ("十一", 11), ("二十", 20), ("三十一", 31), ("两", 2), ("9", 9), ("一百", None)])
def test_chinese_numbers(text, n):
    assert cn_number(text) == n


def test_of_two_dates_the_day_something_was_received_counts():
    found = find("判决是2026年3月2日作出的，我2026年3月9日才拿到", TODAY)
    assert found.date == D(2026, 3, 9)
    assert find("通知书10月12号落款，10月20号送到我家", TODAY).date == D(2026, 10, 20)
    assert find("10月12号和10月20号各来了一次", TODAY).date == D(2026, 10, 12)     # nothing received: the first


def test_a_year_said_apart_from_the_day_is_used():
    found = find("2024年他找我借了钱，约定10月1日还", TODAY)
    assert found.date == D(2024, 10, 1) and found.shown == "2024年10月1日" and not found.note
    assert find("11月3号出的事，那是2025年", TODAY).date == D(2025, 11, 3)
    assert find("2023年和2024年各借过一次，约定10月1日还", TODAY).date == D(2026, 10, 1)   # two years: not guessed
