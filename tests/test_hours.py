"""Opening hours parsing, open-now and next-opening."""
import datetime as dt

from miyun.knowledge import hours

TEXT = "周一至周五 9:00-12:00,13:30-17:00；周六 9:00-11:30"


def test_parse_counts_windows():
    windows = hours.parse(TEXT)
    assert len(windows) == 5 * 2 + 1


def test_open_and_closed():
    windows = hours.parse(TEXT)
    assert hours.is_open(windows, dt.datetime(2026, 11, 23, 10, 0))  # Monday morning
    assert not hours.is_open(windows, dt.datetime(2026, 11, 23, 12, 30))  # lunch
    assert not hours.is_open(windows, dt.datetime(2026, 11, 29, 10, 0))  # Sunday


def test_next_opening():
    windows = hours.parse(TEXT)
    lunch = dt.datetime(2026, 11, 23, 12, 30)
    assert hours.next_opening(windows, lunch) == dt.datetime(2026, 11, 23, 13, 30)
    sunday = dt.datetime(2026, 11, 29, 10, 0)
    nxt = hours.next_opening(windows, sunday)
    assert nxt == dt.datetime(2026, 11, 30, 9, 0)
    assert hours.describe_next(nxt, sunday) == "明天09:00"


def test_unknown_hours_parse_to_nothing():
    assert hours.parse(None) == [] and hours.parse("请电话预约") == []
