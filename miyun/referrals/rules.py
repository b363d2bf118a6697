"""Mediation referrals: validating what residents type, and routing by the rules in content."""
from __future__ import annotations

import datetime as dt
import hmac
import re
from dataclasses import dataclass
from typing import Optional

from miyun.text import normalize

MOBILE = re.compile(r"^1[3-9]\d{9}$")
BEIJING_LANDLINE = re.compile(r"^010\d{8}$")
# MY-2026-000123 (the staff sequence; all a referral made before the check code had) and
# MY-2026-000123-K7QX (the public reference residents get): any case, dashes optional.
# The check code starts with a letter, so a phone tail typed after the number is never taken for it.
REF = re.compile(r"MY-?(\d{4})-?(\d{6})(?:-?([ACDEFGHJKMNPQRTUVWXY][ACDEFGHJKMNPQRTUVWXY34679]{3})(?![A-Z0-9]))?", re.IGNORECASE)
INVOLVEMENT = {"none": "没有", "police": "已报警", "court": "已起诉到法院"}
STATUSES = ("received", "contacted", "mediating", "resolved", "not_resolved", "transferred")
EXPORT_COLUMNS = ["ref", "kind", "created_at", "updated_at", "status", "level", "target", "dispute_type", "town", "village",
                  "description", "involvement", "name", "phone", "contact_time", "assigned_to", "channel"]
PERSONAL_FIELDS = frozenset({"description", "name", "phone", "village", "contact_time"})


def clean_phone(text: str) -> Optional[str]:
    """A mainland mobile or a Beijing (010) landline, digits only; None if it is neither."""
    digits = re.sub(r"\D", "", normalize(text))
    digits = re.sub(r"^(0086|86)(?=1[3-9]\d{9}$)", "", digits)
    return digits if MOBILE.match(digits) or BEIJING_LANDLINE.match(digits) else None


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if phone and len(phone) >= 7 else "****"


# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...), +cmd|...).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    """A text cell a spreadsheet would treat as a formula gets a leading apostrophe (shown as text)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def export_row(row: dict, with_personal_data: bool) -> list:
    """One referral as a CSV row of EXPORT_COLUMNS; personal fields masked unless asked for; no live formulas."""
    values = []
    for key in EXPORT_COLUMNS:
        value = row.get(key)
        if key in PERSONAL_FIELDS and not with_personal_data and value is not None:
            value = mask_phone(value) if key == "phone" else "***"
        values.append("" if value is None else csv_safe(value))
    return values


def retention_cutoff(days: int, now: Optional[dt.datetime] = None) -> str:
    """The creation time before which referrals are past their retention period."""
    now = now or dt.datetime.now().astimezone()
    return (now - dt.timedelta(days=days)).isoformat(timespec="seconds")


def clean_name(text: str) -> Optional[str]:
    """How to address the resident: 'a surname is enough'. Strips 我姓/先生/女士 and the like."""
    value = normalize(text)
    value = re.sub(r"^(我|本人|免贵)?(姓|叫|是)", "", value)
    value = re.sub(r"(先生|女士|大爷|大妈|阿姨|叔叔|师傅|就行|就可以|吧|啊|。|,|!)+$", "", value).strip()
    if not value or len(value) > 10 or re.search(r"\d", value):
        return None
    return value


def clean_reference(text: str) -> Optional[str]:
    """MY-2026-000123-K7QX (or an old MY-2026-000123) in any case, with or without dashes, full-width or not."""
    found = REF.search(normalize(text).replace(" ", ""))
    if not found:
        return None
    sequence = f"MY-{found.group(1)}-{found.group(2)}"
    return f"{sequence}-{found.group(3).upper()}" if found.group(3) else sequence


def split_reference(ref: str) -> tuple[str, Optional[str]]:
    """(staff sequence, check code or None) of a cleaned reference."""
    return (ref[:14], ref[15:] or None) if len(ref) > 14 else (ref, None)


def public_reference(row: dict) -> str:
    """What the resident is given and asked for: the sequence plus the check code (old rows have none)."""
    return f"{row['ref']}-{row['check_code']}" if row.get("check_code") else row["ref"]


def reference_matches(row: dict, check: Optional[str]) -> bool:
    """A referral with a check code answers only to its full public reference; an old one only to its sequence."""
    expected = row.get("check_code") or ""
    return hmac.compare_digest(expected.encode(), (check or "").encode())


def clean_tail(text: str) -> Optional[str]:
    """The last four digits of a phone number."""
    digits = re.sub(r"\D", "", normalize(text))
    return digits if len(digits) == 4 else None


def tails_match(phone: str, tail: str) -> bool:
    """Constant-time comparison of the stored phone's last four digits."""
    return hmac.compare_digest((phone or "")[-4:].encode(), tail.encode())


def classify_involvement(text: str) -> Optional[str]:
    value = normalize(text)
    if re.search(r"法院|起诉|立案|开庭|打官司|诉讼", value):
        return "court"
    if re.search(r"报警|派出所|警察|110|公安", value):
        return "police"
    if re.search(r"没有|没|都没|无|不涉及|还没", value):
        return "none"
    return None


def classify_dispute(text: str, dispute_types: list[dict]) -> Optional[str]:
    """The dispute type named (or implied by keywords) in the text."""
    value = normalize(text)
    for dt in dispute_types:
        if dt["name"] in value or value == dt["name"][:2]:
            return dt["name"]
    for dt in dispute_types:
        if any(k in value for k in dt.get("keywords") or []):
            return dt["name"]
    return None


@dataclass(frozen=True)
class Route:
    level: str
    target: str
    message: str


def route(rules: list[dict], fields: dict) -> Route:
    """The first rule whose `when` matches the referral's fields decides where it goes."""
    town = fields.get("town") or "所在镇街"
    for rule in rules:
        when = rule.get("when") or {}
        ok = True
        for key, expected in when.items():
            if key == "description_contains":
                ok = any(word in (fields.get("description") or "") for word in expected)
            else:
                ok = fields.get(key) == expected
            if not ok:
                break
        if ok:
            return Route(rule["level"], rule["target"].format(town=town), " ".join(rule["message"].split()).format(town=town))
    return Route("town", f"{town}说法评理平台（司法所）", "")


def validate_config(config: dict) -> list[tuple[str, str]]:
    """(field, message) problems in content/referrals.yml."""
    problems = []
    if not (config.get("consent") or {}).get("text"):
        problems.append(("consent.text", "缺少同意告知文字 / missing consent text"))
    if not (config.get("consent") or {}).get("declined"):
        problems.append(("consent.declined", "缺少拒绝后的说明 / missing text for a declined consent"))
    names = [d.get("name") for d in config.get("dispute_types") or []]
    if not names or not all(names):
        problems.append(("dispute_types", "需要纠纷类型列表 / dispute types needed"))
    levels = config.get("levels") or {}
    rules = config.get("rules") or []
    if not rules or (rules[-1].get("when") or {}) != {}:
        problems.append(("rules", "最后一条规则应为默认规则 when: {} / the last rule must be the default (when: {})"))
    for i, rule in enumerate(rules, 1):
        if rule.get("level") not in levels:
            problems.append((f"rules[{i}].level", f"未知层级 / unknown level {rule.get('level')!r}"))
        if not rule.get("target") or not rule.get("message"):
            problems.append((f"rules[{i}]", "需要 target 和 message / target and message required"))
        for key in (rule.get("when") or {}):
            if key not in ("involvement", "dispute_type", "description_contains"):
                problems.append((f"rules[{i}].when.{key}", "未知条件 / unknown condition"))
        dt = (rule.get("when") or {}).get("dispute_type")
        if dt and dt not in names:
            problems.append((f"rules[{i}].when.dispute_type", f"未知纠纷类型 / unknown dispute type {dt!r}"))
    statuses = config.get("statuses") or {}
    for status in STATUSES:
        if not statuses.get(status):
            problems.append((f"statuses.{status}", "缺少状态说明 / missing public text for this status"))
    if not isinstance(config.get("retention_days"), int) or config["retention_days"] <= 0:
        problems.append(("retention_days", "保存天数应为正整数 / must be a positive number of days"))
    elif f"{config['retention_days']}天" not in " ".join(str((config.get("consent") or {}).get("text") or "").split()):
        # The consent text is what the resident agrees to: it must state the period the retention run applies.
        problems.append(("consent.text", f"同意告知应写明保存期限“{config['retention_days']}天”（与 retention_days 一致）/ "
                                         "the consent text must state retention_days"))
    return problems
