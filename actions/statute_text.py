"""The statute texts behind an answer: the 查看法条原文 button and how one article is shown.

Kept apart from actions/statutes.py so the service answers can offer the button without an import cycle.
"""
from __future__ import annotations

import json
import logging
from typing import Dict, List, Optional

from miyun.knowledge import statutes

logger = logging.getLogger(__name__)

BUTTON_TITLE = "查看法条原文"
PAYLOAD = "/show_statutes"


def library() -> Optional[statutes.Library]:
    """The statute library, or None when it is not set up (answers then go without the button)."""
    try:
        lib = statutes.library()
        lib._load()
        return lib
    except statutes.StatutesUnavailable as exc:
        logger.warning("statute library unavailable: %s", exc)
        return None


def statute_button(entry: dict) -> List[Dict[str, str]]:
    """[查看法条原文] when the entry cites at least one article the library holds, else []."""
    lib = library()
    if lib is None or not entry.get("legal_basis"):
        return []
    found, _ = lib.cited(entry["legal_basis"])
    if not found:
        return []
    return [{"title": BUTTON_TITLE, "payload": PAYLOAD + json.dumps({"content_id": entry["id"]}, ensure_ascii=False)}]
AMENDED_NOTE = "（本条在此版本之后已被修正案修改，以下为修改前的文本，请以最新官方文本为准）"


def article_block(article: statutes.Article) -> str:
    """One article: its heading (law, version, number) on its own line, then the verbatim text."""
    note = AMENDED_NOTE if article.amended_later else ""
    return f"{article.heading}{note}\n{article.text}"
