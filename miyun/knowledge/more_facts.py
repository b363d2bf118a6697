"""More facts of a service answer: short one-fact answers beside the nine aspects, each with the
residents' own phrasings ("调解协议什么时候生效", "信访会不会被打击报复"), and recognising which one
a message asks.

A fact is `{questions: [2–12 phrasings], text ≤120字, legal_basis, source, verified}` in a service's
`more_facts:` list (content/services.yml). Its text, basis, source and date are checked by the same
rule as an aspect (`aspects.check_item`); a fact additionally needs its questions, a text and a
legal basis, since it is a legal point written from the law.

Recognition is deliberately simple, so staff can predict it: both the message and each phrasing
are normalised (simplified, 咋→怎么, 会不会→会, particles and the service's own names from
content/aspects.yml › topics removed) and cut into characters and character bigrams; a feature shared
by many phrasings of the service (申请, 可以) counts less (IDF). The score of a fact is
the best weighted cosine between the message and one of its phrasings, times POLARITY when one of
the two is negated (不能, 不得 …) and the other is not. A message with under RESIDUE_MIN characters
left once the service's names and all aspect keywords are removed asks an aspect, not a fact. A fact
leads the reply when its score is at least THRESHOLD, it beats every other fact of the service by
MARGIN, and the specific aspect the reply would otherwise lead with (收费, 材料, 多久 … by
content/aspects.yml › priority), if any, is named by one of the fact's phrasings too: an aspect
keyword none of the fact's questions has means the resident asked that aspect, and the aspect keeps
priority.
"""
from __future__ import annotations

import functools
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from miyun.knowledge.aspects import COLLOQUIAL, Fail, Table, check_item

KEY = "more_facts"
QUESTIONS_MIN, QUESTIONS_MAX = 2, 12
# Chosen on sets 1 and 2 (tests/service_facts_eval*.yml, both tuned-on): every lead at ≥ 0.35 with a
# 0.15 margin gave the right fact; at 0.30 an hours question ("…啥时候有人值班") got the wrong one.
# Rechecked with 5× as many facts (2026-12-01): on sets 1–3 (all tuned-on by then) margins 0.08–0.15
# differ by one case, but asking each phrasing with itself left out led to a sibling fact 12 times at
# 0.08 and 4 times at 0.15 (of 544), so the margin stays; 0.30 gained nothing over 0.35.
THRESHOLD = 0.35
MARGIN = 0.15
# Under THRESHOLD, a fact this close and this clear of the next is still offered beside a general
# answer ("您问的可能是"), never as the answer. Chosen on sets 1–7 (all tuned-on): of the summary
# replies it would join, 16 of 20 got the asked fact; it added the asked fact to 7 of 10 failing ones.
CLOSEST_AT = 0.25
CLOSEST_MARGIN = 0.03

_A_NOT_A = re.compile(r"(\w)不\1")
_PARTICLES = re.compile(r"[的了吗呢吧啊呀么嘛哦啦呗]")
_NOT_WORD = re.compile(r"[^0-9a-z\u4e00-\u9fff]+")
# "哪些事能复议" and "哪些事不能复议" share nearly every bigram but ask opposite things: a phrasing
# whose polarity differs from the message's counts this much less.
_NEGATED = re.compile(r"不能|不可以|不可|不得|不让|不给(?=公开|办|批|受理|复议|援助|调解|立案|答复|处理|查)|不准|不许|不属于|不予")
POLARITY = 0.75
# Characters a message needs beyond the service's names and the aspect keywords to ask a fact.
RESIDUE_MIN = 2
_FUNCTION = re.compile(r"怎么|什么|可以|一般|大概|需要|请问|[我你他她要能会还才得是有就都也又再很]")


# --------------------------------------------------------------------------- validation


def check_service_facts(entry: dict, fail: Fail, check_basis: Any, check_date: Any) -> list[dict]:
    """The entry's `more_facts` as plain values; problems go to `fail(field, message)`.

    `check_basis` and `check_date` are the content checker's own rules (as for aspects)."""
    raw = entry.get(KEY)
    if raw is None:
        return []
    if not isinstance(raw, list):
        fail(KEY, "应为列表：每条事实一项 / must be a list, one item per fact")
        return []
    out = []
    for i, item in enumerate(raw, 1):
        where = f"{KEY}[{i}]"
        checked = check_item(item, where, fail, check_basis, check_date, extra_fields=("questions",))
        if checked is None:
            continue
        questions = item.get("questions")
        if not isinstance(questions, list) or not all(isinstance(q, str) and q.strip() for q in questions):
            fail(f"{where}.questions", "应为非空文字列表（居民的问法）/ must be a list of non-empty texts (residents' phrasings)")
            questions = []
        questions = [q.strip() for q in questions]
        repeated = sorted({q for q in questions if questions.count(q) > 1})
        if repeated:
            fail(f"{where}.questions", f"问法重复：{'、'.join(repeated)} / repeated phrasing")
        if questions and not QUESTIONS_MIN <= len(questions) <= QUESTIONS_MAX:
            fail(f"{where}.questions", f"问法应为 {QUESTIONS_MIN}–{QUESTIONS_MAX} 条，现在 {len(questions)} 条 / needs "
                                       f"{QUESTIONS_MIN}–{QUESTIONS_MAX} phrasings, has {len(questions)}")
        if checked["text"] is None:
            fail(f"{where}.text", "缺少内容：事实要有简答 / missing: a fact needs its short answer")
        if not item.get("legal_basis"):
            fail(f"{where}.legal_basis", "缺少法律依据 / missing legal basis")
        if checked["text"] is not None and questions:
            out.append({"questions": questions, **checked})
    return out


# --------------------------------------------------------------------------- recognition


def clean(text: str, drop: Iterable[str] = ()) -> str:
    """Normalised text (see `miyun.text.normalize`) as the matcher compares it, without the words in `drop`."""
    text = text.lower()
    for spoken, written in COLLOQUIAL:
        text = text.replace(spoken, written)
    for word in sorted(drop, key=len, reverse=True):
        text = text.replace(word, " ")
    text = _A_NOT_A.sub(r"\1", text)  # 会不会被报复 → 会被报复
    return _PARTICLES.sub("", text)


def bigrams(text: str) -> set[str]:
    """The characters and character bigrams inside each run of letters/digits/CJK."""
    out: set[str] = set()
    for run in _NOT_WORD.split(text):
        out.update(run)
        out.update(run[i:i + 2] for i in range(len(run) - 1))
    return out


@dataclass
class Match:
    """The fact a message asks, and why (for the console preview and tests)."""

    fact: Optional[dict]
    score: float = 0.0
    runner_up: float = 0.0
    phrasing: str = ""
    reason: str = ""
    closest: Optional[dict] = None  # not sure enough to lead, but near (CLOSEST_AT): may be shown beside


def _weights(phrasing_sets: list[set[str]]) -> dict[str, float]:
    df: Counter = Counter()
    for s in phrasing_sets:
        df.update(s)
    n = len(phrasing_sets)
    return {b: math.log((1 + n) / (1 + c)) + 1.0 for b, c in df.items()}


def _cosine(a: set[str], b: set[str], w: dict[str, float], unseen: float) -> float:
    if not a or not b:
        return 0.0
    shared = sum(w.get(x, unseen) ** 2 for x in a & b)
    norm = math.sqrt(sum(w.get(x, unseen) ** 2 for x in a) * sum(w.get(x, unseen) ** 2 for x in b))
    return shared / norm if norm else 0.0


@functools.lru_cache(maxsize=32)
def _prepared(questions: tuple[tuple[int, str], ...], drop: tuple[str, ...]) -> tuple[list, dict[str, float]]:
    """A service's phrasings as compared — (fact index, phrasing, bigrams, negated) — and their weights:
    the same for every message until the content changes, so not cleaned again per message."""
    cleaned = [(i, q, clean(q, drop)) for i, q in questions]
    phrasings = [(i, q, bigrams(c), bool(_NEGATED.search(c))) for i, q, c in cleaned]
    return phrasings, _weights([s for _, _, s, _ in phrasings])


def best(service: Optional[dict], text: str, table: Table) -> Match:
    """The one fact of `service` that the normalised message `text` asks, if it is clear."""
    facts = (service or {}).get(KEY) or []
    if not facts or not text:
        return Match(None, reason="no facts")
    # The service's own name (调解, 信访 …) is in half the phrasings and says nothing about which fact.
    drop = table.topics.get(service["id"], [])
    # "信息公开多久答复", "法援要钱吗": nothing but the service and aspect words is left, so it asks the
    # aspect, whatever fact shares those words.
    keywords = [k for a in table.aspects for k in a["keywords"]]
    if len(_NOT_WORD.sub("", _FUNCTION.sub("", clean(text, list(drop) + keywords)))) < RESIDUE_MIN:
        return Match(None, reason="only service and aspect words")
    phrasings, w = _prepared(tuple((i, q) for i, f in enumerate(facts) for q in f.get("questions") or []), tuple(drop))
    unseen = math.log(1 + len(phrasings)) + 1.0  # a bigram no phrasing has: as rare as can be
    message_text = clean(text, drop)
    message, negated = bigrams(message_text), bool(_NEGATED.search(message_text))
    per_fact: dict[int, tuple[float, str]] = {}
    for i, q, s, q_negated in phrasings:
        score = _cosine(message, s, w, unseen) * (POLARITY if q_negated != negated else 1.0)
        if score > per_fact.get(i, (-1.0, ""))[0]:
            per_fact[i] = (score, q)
    ranked = sorted(per_fact.items(), key=lambda kv: -kv[1][0])
    (top, (score, phrasing)), runner_up = ranked[0], (ranked[1][1][0] if len(ranked) > 1 else 0.0)
    found = Match(None, round(score, 3), round(runner_up, 3), phrasing)
    if score < THRESHOLD or score - runner_up < MARGIN:
        found.reason = f"below threshold {THRESHOLD}" if score < THRESHOLD else f"margin under {MARGIN}"
        if score >= CLOSEST_AT and score - runner_up >= CLOSEST_MARGIN:
            found.closest = facts[top]
    else:
        # A specific aspect the reply would otherwise lead with keeps priority, unless one of the fact's
        # questions asks it too; a general one (怎么申请, 是什么: content/aspects.yml › only_alone) is less exact than a fact.
        asked = table.aspects_in(text, service["id"], limit=1)
        if asked and asked[0] not in table.only_alone and not any(
                asked[0] in table.aspects_in(q, service["id"], limit=9) for q in facts[top]["questions"]):
            found.reason = f"aspect asked: {asked[0]}"
        else:
            found.fact, found.reason = facts[top], "fact"
    return found
