"""A template filled with the resident's answers: the rows, the closing and the plain text."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from miyun.documents.templates import BLANK, Field, Template

# Answers meaning "I don't know": the field is left as a blank to fill in by hand.
UNKNOWN = re.compile(r"^(我也?|真的?)?(不知道|不清楚|不记得了?|记不清了?|不确定|说不清|不晓得|没有|无|跳过|空着|先空着|留空|不会写)(了|呢|啊|吧)?[。！!.]*$")


def is_unknown(text: str) -> bool:
    return bool(UNKNOWN.match("".join(str(text or "").split())))


@dataclass(frozen=True)
class Filled:
    template: Template
    values: dict[str, str] = field(default_factory=dict)
    date: dt.date = field(default_factory=dt.date.today)

    def value(self, f: Field) -> str:
        return self.values.get(f.key) or BLANK

    def rows(self) -> list[tuple[Field, str]]:
        return [(f, self.value(f)) for f in self.template.fields]

    def blanks(self) -> list[Field]:
        """Fields printed as a blank; the required ones must be completed by hand before filing."""
        return [f for f in self.template.fields if not self.values.get(f.key)]

    def closing(self) -> str:
        return re.sub(r"\{([a-z0-9_]+)\}", lambda m: self.values.get(m.group(1)) or BLANK, self.template.closing)

    def date_text(self) -> str:
        return f"{self.date.year}年{self.date.month}月{self.date.day}日"

    def signature(self) -> str:
        return "申请人（签名）：" + BLANK + BLANK if "诉状" not in self.template.title else "具状人（签名）：" + BLANK + BLANK

    def text(self) -> str:
        """The whole document as plain text (chat fallback and the tests' reference)."""
        lines = [self.template.title, ""]
        for f, value in self.rows():
            lines.append(f"{f.label}：" + ("\n" + value if f.long and value != BLANK else value))
        if self.template.closing:
            lines += ["", self.closing()]
        lines += ["", self.signature(), f"日期：{self.date_text()}"]
        return "\n".join(lines)


def fill(template: Template, answers: dict[str, str | None], today: dt.date | None = None) -> Filled:
    """Keep only the template's fields; unknown or empty answers become blanks."""
    values = {}
    for f in template.fields:
        answer = " ".join(str(answers.get(f.key) or "").split()) if not f.long else str(answers.get(f.key) or "").strip()
        if answer and not is_unknown(answer):
            values[f.key] = answer
    return Filled(template, values, today or dt.date.today())
