"""How curated content is worded for residents: legal basis, unverified facts, sources, closing line."""
from __future__ import annotations

import math
import re
from typing import Any, Iterable, Optional

DISCLAIMER = "以上为法律信息，不构成法律意见；需要帮助请拨打12348公共法律服务热线。"
CONFIRM_VIA_12348 = "请拨打12348公共法律服务热线确认"
_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """Article numbers the way Chinese law texts write them: 188 → 一百八十八, 1077 → 一千零七十七."""
    if n <= 0 or n >= 10000:
        return str(n)
    parts, zero = [], False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // value % 10
        if digit:
            if zero:
                parts.append("零")
                zero = False
            parts.append(("" if (value == 10 and digit == 1 and n < 20) else _DIGITS[digit]) + unit)
        elif parts:
            zero = True
    return "".join(parts)


def legal_basis_line(basis: Iterable[dict]) -> Optional[str]:
    """法律依据：《法》第X条、第Y条；《法》."""
    items = []
    for item in basis or []:
        law = f"《{item['law']}》"
        arts = "、".join(f"第{chinese_number(a)}条" for a in item.get("articles") or [])
        items.append(law + arts)
    return "法律依据：" + "；".join(items) if items else None


def source_line(entry: dict) -> Optional[str]:
    """来源 and the date it was last checked, or that it is still being checked."""
    source = entry.get("source")
    verified = entry.get("verified")
    if not source:
        return None
    return f"来源：{source}（核实于{verified}）" if verified else f"来源：{source}（内容待工作人员核实）"


def facts_lines(facts: Iterable[dict]) -> list[str]:
    """Known facts as lines; unknown or unverified ones are named and sent to 12348."""
    lines, unknown = [], []
    for fact in facts or []:
        if fact.get("value") and fact.get("verified"):
            lines.append(f"{fact['label']}：{fact['value']}")
        elif fact.get("value"):
            lines.append(f"{fact['label']}：{fact['value']}（待核实，{CONFIRM_VIA_12348}）")
        else:
            unknown.append(fact["label"])
    if unknown:
        lines.append(f"{'、'.join(unknown)}：正在核实中，{CONFIRM_VIA_12348}。")
    return lines


def compose(*parts: Optional[str]) -> str:
    """Non-empty parts, one per paragraph."""
    return "\n".join(p.strip() for p in parts if p and p.strip())


def service_text(service: dict) -> str:
    """The full answer for a service intent."""
    return compose(
        service["answer"],
        "\n".join(facts_lines(service.get("facts"))),
        legal_basis_line(service.get("legal_basis")),
        source_line(service),
        DISCLAIMER,
    )


# ---------------------------------------------------------------- aspects (the one fact asked)

ASPECT_UNKNOWN = "这一项正在核实中，请拨打12348确认。"
ASPECT_UNVERIFIED = "（此项待工作人员核实，请拨打12348确认）"
SUMMARY_MAX = 200
SUMMARY_HINT = "想了解收费、材料、去哪办等，请点下面的按钮。"


def aspect_lines(aspect: Optional[dict]) -> list[str]:
    """One aspect: the fact first, then its legal basis (or, without one, where it comes from).

    Unknown aspects say so honestly; unverified ones carry a "please confirm" note."""
    if not aspect or not aspect.get("text"):
        return [ASPECT_UNKNOWN]
    fact = aspect["text"] + ("" if aspect.get("verified") else ASPECT_UNVERIFIED)
    basis = legal_basis_line(aspect.get("legal_basis"))
    if basis:
        return [fact, basis]
    return [fact, f"来源：{aspect['source']}"] if aspect.get("source") else [fact]


def aspect_text(service: dict, keys: list[str], label: Any, extra: str = "") -> str:
    """The aspects asked (one or two), each under a short heading, then one disclaimer line.

    `label(key)` names an aspect (the keyword table's label)."""
    aspects = service.get("aspects") or {}
    parts = []
    for key in keys:
        parts.append(f"【{service['title']} · {label(key)}】")
        parts.extend(aspect_lines(aspects.get(key)))
    return compose(*parts, extra, DISCLAIMER)


FIRST_REPLY_MAX = 400  # characters of a first reply, as residents see them (whitespace not counted)


def fits_first_reply(text: str) -> bool:
    return len("".join(text.split())) <= FIRST_REPLY_MAX


def fact_text(service: dict, fact: dict, keys: list[str], label: Any, extra: str = "") -> str:
    """A one-fact answer (a service's `more_facts` item) first; then the aspect the message also
    named, when both still fit in a first reply."""
    lead = [f"【{service['title']}】", *aspect_lines(fact)]
    aspect = (service.get("aspects") or {}).get(keys[0]) if keys else None
    if aspect and aspect.get("text"):  # an unknown aspect adds nothing to the fact
        more = [f"【{service['title']} · {label(keys[0])}】", *aspect_lines(aspect)]
        both = compose(*lead, *more, extra, DISCLAIMER)
        if fits_first_reply(both):
            return both
    return compose(*lead, extra, DISCLAIMER)


def summary(service: dict) -> str:
    """A short first answer: the `summary` field, else the `what` aspect, else the answer's first sentences."""
    text = str(service.get("summary") or "").strip()
    if not text:
        what = (service.get("aspects") or {}).get("what") or {}
        text = str(what.get("text") or "").strip()
    if not text:
        text = str(service.get("answer") or "").strip()
    if len(text) > SUMMARY_MAX:
        cut = max(text.rfind(mark, 0, SUMMARY_MAX) for mark in "。；！")
        text = text[: cut + 1] if cut > 40 else text[: SUMMARY_MAX - 2] + "……"
    return text


CLOSEST_LEAD = "您问的可能是这一点："


def summary_text(service: dict, extra: str = "", closest: Optional[dict] = None) -> str:
    """A service asked about in general: the short summary, the `what` basis, the buttons hint; and
    `closest`, a fact the message may ask (not sure enough to lead), when it still fits a first reply."""
    what = (service.get("aspects") or {}).get("what") or {}
    has_aspects = bool(service.get("aspects"))
    head = [f"【{service['title']}】" if has_aspects else None, summary(service),
            legal_basis_line(what.get("legal_basis")) if has_aspects and not service.get("summary") else None]
    tail = [SUMMARY_HINT if has_aspects else None, extra, DISCLAIMER]
    if closest and closest.get("text"):
        both = compose(*head, CLOSEST_LEAD, *aspect_lines(closest), *tail)
        if fits_first_reply(both):
            return both
    return compose(*head, *tail)


def station_text(station: dict, lead: str = "") -> str:
    """A station's name, what it offers, and which details are still being confirmed."""
    known, unknown = [], []
    for key, label in (("address", "地址"), ("phone", "电话"), ("hours", "开放时间")):
        if station.get(key) and station.get("verified"):
            known.append(f"{label}：{station[key]}")
        elif station.get(key):
            known.append(f"{label}：{station[key]}（待核实，{CONFIRM_VIA_12348}）")
        else:
            unknown.append(label)
    services = "、".join(station.get("services") or [])
    return compose(
        lead,
        station["name"],
        f"可办理：{services}，均免费。" if services else None,
        "\n".join(known),
        f"{'、'.join(unknown)}正在核实中，去之前{CONFIRM_VIA_12348}。" if unknown else None,
        source_line(station),
    )


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance."""
    r = 6371.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def nearest(stations: list[dict], lat: float, lon: float) -> Optional[tuple[dict, float]]:
    """The station nearest to a point, with its distance."""
    located = [s for s in stations if s.get("latitude") is not None and s.get("longitude") is not None and s.get("town")]
    if not located:
        return None
    best = min(located, key=lambda s: distance_km(lat, lon, s["latitude"], s["longitude"]))
    return best, distance_km(lat, lon, best["latitude"], best["longitude"])


_STEP = re.compile(r"(?:(?<=\s)|(?<=[。；！：:]))(\d{1,2})[.、](?!\d)\s*")


def steps_on_lines(text: str) -> str:
    """Numbered steps written inline ("…： 1. 留证据 2. …") each start a line, easier on a phone."""
    return re.sub(r"[ \t]+\n", "\n", _STEP.sub(lambda m: "\n" + m.group(1) + ". ", text)).strip()


def article_text(article: dict, full: bool) -> str:
    """An article's answer: the first sentences for the chat, or all of it."""
    answer = article["answer"]
    if not full and len(answer) > 160:
        cut = max(answer.rfind(mark, 0, 160) for mark in "。；！")
        answer = answer[: cut + 1] if cut > 60 else answer[:150] + "……"
    return compose(
        f"【{article['title']}】",
        steps_on_lines(answer),
        legal_basis_line(article.get("legal_basis")),
        source_line(article) if full else None,
        DISCLAIMER,
    )


LIKELY_LEAD = "您问的可能是下面这个问题（如果不是您的情况，请点“不是这个”或拨打12348）："


def likely_text(article: dict) -> str:
    """A likely but not sure match: the article's short answer, introduced as a guess."""
    return compose(LIKELY_LEAD, article_text(article, full=False))


def clarifying_question(first: dict, second: dict) -> str:
    """One question when two different articles fit about equally: the resident picks, we don't guess."""
    a, b = (str(x["title"]).rstrip("？?。") for x in (first, second))
    return f"您问的是“{a}”，还是“{b}”？请点一下最接近的一项，我给您看对应的解答。"


SUGGEST_LEAD = "我不能确定您问的是哪一种情况。"
# Where a resident without a sure answer goes next. Whether 12348 costs anything and who answers it
# are not verified (services.yml › hotline › fee), so neither is claimed here; legal aid's being
# free is the law's (法律援助法第2条).
HOTLINE_NEXT = "拨打12348公共法律服务热线咨询"
NEXT_STEPS_TEXT = (
    f"1. {HOTLINE_NEXT}；\n"
    "2. 经济困难的，可以申请免费的法律援助；\n"
    "3. 到所在镇街的公共法律服务站当面咨询。"
)


def suggestion_question(articles: list[dict]) -> str:
    """No one article is sure, but one of a few likely is: the resident picks, with the way out beside them."""
    lines = [f"{i}. {str(a['title']).rstrip('？?。')}" for i, a in enumerate(articles, 1)]
    return (SUGGEST_LEAD + "下面这几个问题，哪个最接近您的情况？请点一下，我给您看对应的解答：\n"
            + "\n".join(lines) + f"\n都不是的话，建议{HOTLINE_NEXT}。")
