"""Counting a legal period the way the law does.

民法典第201条: the day the period starts is not counted. 第202条: a period in months or years ends
on the corresponding day of the last month, or that month's last day when it has no such day.
第203条 (and 民事诉讼法第85条): a last day on a 法定休假日 moves to the day after the rest ends.
法定休假日 here means official holidays and ordinary weekends; the 调休 Saturdays and Sundays are
official working days, so a period can end on them. Working-day periods (政府信息公开条例第33条,
道路交通事故处理程序规定第112条) count official working days only.

The official calendar comes from the maintained `chinese_calendar` package. A year it has no data
for is still counted by the calendar and the weekend rule, and reported in `unchecked_years`, so the
answer can say the holiday adjustment could not be checked.
"""
from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field

UNITS = ("day", "month", "year", "workday")
UNIT_LABELS = {"day": "日", "month": "个月", "year": "年", "workday": "个工作日"}
WEEKDAYS = "一二三四五六日"
# Safety stop for the working-day and rest-day walks; real periods stay far below.
_MAX_WALK_DAYS = 3660


def weekday_name(day: dt.date) -> str:
    """星期一 … 星期日."""
    return "星期" + WEEKDAYS[day.weekday()]


def add_months(day: dt.date, months: int) -> dt.date:
    """The corresponding day `months` later; the month's last day when there is none (第202条)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass
class DayInfo:
    """What the official calendar says about one day."""

    workday: bool
    checked: bool           # False: the year is beyond the calendar data; only the weekend rule applied
    name: str = ""          # the holiday's Chinese name, 周末, or "" for a working day
    in_lieu_workday: bool = False   # a 调休 Saturday/Sunday that is an official working day


def day_info(day: dt.date) -> DayInfo:
    """Working day or rest day, from chinese_calendar; weekend rule when the year has no data."""
    import chinese_calendar as cc   # imported on use: no work at import time

    weekend = day.weekday() >= 5
    try:
        workday = cc.is_workday(day)
        _, english = cc.get_holiday_detail(day)
    except NotImplementedError:
        return DayInfo(workday=not weekend, checked=False, name="周末" if weekend else "")
    name = ""
    if not workday:
        name = "周末"
        if english:
            try:
                name = cc.Holiday(english).chinese
            except ValueError:
                name = "法定节假日"
    return DayInfo(workday=workday, checked=True, name=name, in_lieu_workday=workday and weekend)


@dataclass
class Period:
    """A computed period: the calendar last day, the last day after the rest-day rule, and notes."""

    start: dt.date
    length: int
    unit: str
    nominal: dt.date                    # last day by the calendar alone (days, months, years)
    last_day: dt.date                   # after moving off rest days (or the n-th working day)
    moved_over: list[str] = field(default_factory=list)   # names of the rest days moved past, in order
    unchecked_years: list[int] = field(default_factory=list)
    ends_on_in_lieu_workday: bool = False

    @property
    def moved(self) -> bool:
        return self.last_day != self.nominal and self.unit != "workday"


def _note(unchecked: list[int], day: dt.date, info: DayInfo) -> None:
    if not info.checked and day.year not in unchecked:
        unchecked.append(day.year)


def count(start: dt.date, length: int, unit: str) -> Period:
    """The last day of a period of `length` `unit`s that starts on `start` (the start day not counted)."""
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}; one of {UNITS}")
    if length <= 0:
        raise ValueError("length must be positive")
    unchecked: list[int] = []
    if unit == "workday":
        day, counted = start, 0
        for _ in range(_MAX_WALK_DAYS):
            day += dt.timedelta(days=1)
            info = day_info(day)
            _note(unchecked, day, info)
            if info.workday:
                counted += 1
                if counted == length:
                    return Period(start, length, unit, day, day, [], sorted(unchecked), info.in_lieu_workday)
        raise ValueError("working-day period too long")
    if unit == "day":
        nominal = start + dt.timedelta(days=length)
    elif unit == "month":
        nominal = add_months(start, length)
    else:
        nominal = add_months(start, 12 * length)
    day, moved_over = nominal, []
    for _ in range(_MAX_WALK_DAYS):
        info = day_info(day)
        _note(unchecked, day, info)
        if info.workday:
            return Period(start, length, unit, nominal, day, moved_over, sorted(unchecked), info.in_lieu_workday)
        if info.name and info.name not in moved_over:
            moved_over.append(info.name)
        day += dt.timedelta(days=1)
    raise ValueError("no working day found")
