"""How a deadline answer is worded: the date first, then the rule, its basis, and that it is an estimate."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

from miyun.deadlines import dates, periods
from miyun.deadlines.rules import Deadline

# Every date answer ends with this: the bot estimates, the authority's own count decides.
ESTIMATE = "以上是按您说的日期做的估算，实际以受理机关的计算为准；拿不准请拨打12348。"
PASSED = "按这个推算期限已过；如有中断、中止或正当理由耽误，结果可能不同，请尽快拨打12348。"
UNIT_WORDS = {"day": "日", "month": "个月", "year": "年", "workday": "个工作日"}


def long_date(day: dt.date) -> str:
    """2026年11月9日（星期一）."""
    return f"{day.year}年{day.month}月{day.day}日（{periods.weekday_name(day)}）"


# How article numbers are written; the action passes the knowledge base's Chinese numerals (第二十条)
# so deadline answers cite like every other answer. This package imports nothing of the rest.
Numbering = Callable[[int], str]


def basis_line(deadline: Deadline, number: Numbering = str) -> str:
    items = []
    for item in deadline.legal_basis:
        arts = "、".join(f"第{number(a)}条" for a in item.get("articles") or [])
        items.append(f"《{item['law']}》{arts}")
    return "法律依据：" + "；".join(items)


def rule_line(deadline: Deadline) -> str:
    """The rule in plain words."""
    head = f"规则：自{deadline.trigger}起{deadline.length}{UNIT_WORDS[deadline.unit]}"
    if deadline.unit == "workday":
        how = "只数法定工作日（含调休上班日），当天不算"
    elif deadline.unit == "day":
        how = "当天不算；最后一天逢周末或法定节假日，顺延到之后第一个工作日"
    else:
        how = "到期月的对应日为最后一天（没有对应日取月末）；逢周末或法定节假日顺延"
    return f"{head}，{how}。"


@dataclass
class DateAnswer:
    text: str
    period: periods.Period
    extended: periods.Period | None = None
    passed: bool = False


def _calendar_notes(period: periods.Period) -> list[str]:
    notes = []
    if period.moved:
        names = "、".join(period.moved_over)
        notes.append(f"按日历是{long_date(period.nominal)}，逢{names}休息，顺延到这一天。")
    if period.ends_on_in_lieu_workday:
        notes.append("这一天是调休上班日，按工作日计算，不顺延。")
    if period.unchecked_years:
        years = "、".join(f"{y}年" for y in period.unchecked_years)
        notes.append(f"注意：{years}的法定节假日安排不在日历数据里，未能核对节假日顺延，只按周末算；请以当年放假安排为准。")
    return notes


def date_answer(deadline: Deadline, found: dates.Found, today: dt.date, extension_asked: bool = False,
                number: Numbering = str) -> DateAnswer:
    """The full answer for a dated question whose date was understood.

    `extension_asked` ("说要延期，延长以后最晚哪天"): the extended last day leads and is the result.
    """
    assert found.date is not None
    period = periods.count(found.date, deadline.length, deadline.unit)
    extended = None
    if deadline.extension:
        ext = deadline.extension
        extended = periods.count(found.date, deadline.length + ext["length"], ext["unit"])
    if extended is not None and extension_asked:
        lines = [f"按您说的{found.shown}{deadline.event}推算，延长后{deadline.last_day_label}是{long_date(extended.last_day)}。",
                 f"（{deadline.extension['text']}；不延长的话，最后一天是{long_date(period.last_day)}。）"]
        period, extended = extended, None
    else:
        lines = [f"按您说的{found.shown}{deadline.event}推算，{deadline.last_day_label}是{long_date(period.last_day)}。"]
    if found.note:
        lines.append(f"（{found.note}。）")
    lines += _calendar_notes(period)
    if extended is not None:
        lines.append(f"{deadline.extension['text']}，延长后最晚是{long_date(extended.last_day)}。")
        lines += [n for n in _calendar_notes(extended) if n not in lines]
    passed = (extended or period).last_day < today
    if passed:
        lines.append(deadline.passed_note or PASSED)
    lines.append(rule_line(deadline))
    if deadline.note:
        lines.append(deadline.note)
    lines.append(basis_line(deadline, number))
    lines.append(ESTIMATE)
    return DateAnswer("\n".join(lines), period, extended, passed)


def rule_only(deadline: Deadline, number: Numbering = str) -> str:
    """A deadline asked about without a date: the rule, its basis, and a request for the date."""
    return "\n".join(filter(None, [
        rule_line(deadline),
        deadline.note,
        basis_line(deadline, number),
        f"告诉我具体日期（{deadline.trigger}，例如：9月10号），我帮您推算最后一天是哪天。",
    ]))


LUNAR_TEXT = "法律上的期限按公历（阳历）计算。您说的像是农历日期，为免算错，请告诉我对应的公历日期，例如：9月10号。"
MONTH_ONLY_TEXT = "只知道月份还算不出最后一天。请告诉我具体是哪一天，例如：9月10号。"
ASK_KIND_TEXT = "您想算的是哪一种期限？请选一个（日期我已经记下了）："
ASK_KIND_NO_DATE_TEXT = "您想算的是哪一种期限？请选一个，然后告诉我日期："


def impossible_text(found: dates.Found) -> str:
    return f"{found.note}，请再核对一下日期（例如：9月10号）。"
