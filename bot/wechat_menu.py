"""The WeChat custom menu: load `wechat_menu.yml`, check WeChat's limits, print the menu-create JSON.

Usage: python -m bot.wechat_menu [--file PATH]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from bot.inputs import is_payload

MENU_FILE = Path(__file__).with_name("wechat_menu.yml")
_ALLOWED_TYPES = {"click", "view", "location_select", "scancode_push", "miniprogram"}


class MenuError(ValueError):
    pass


def _utf8(s: str) -> int:
    return len(s.encode("utf-8"))


def load_menu(path: Path = MENU_FILE) -> tuple[dict[str, Any], dict[str, str]]:
    """-> (menu-create JSON body, {click key: Rasa payload}). Raises MenuError if invalid."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    top = data.get("button")
    if not isinstance(top, list) or not 1 <= len(top) <= 3:
        raise MenuError("menu needs 1 to 3 top-level buttons")
    keys: dict[str, str] = {}
    body: list[dict[str, Any]] = []

    def leaf(b: dict[str, Any], max_name: int) -> dict[str, Any]:
        name, kind = str(b.get("name", "")), b.get("type")
        if not name or _utf8(name) > max_name:
            raise MenuError(f"button name {name!r} empty or over {max_name} bytes")
        if kind not in _ALLOWED_TYPES:
            raise MenuError(f"button {name!r}: unsupported type {kind!r}")
        out = {k: v for k, v in b.items() if k != "payload"}
        if kind == "click":
            key, payload = str(b.get("key", "")), str(b.get("payload", ""))
            if not key or _utf8(key) > 128 or key in keys:
                raise MenuError(f"button {name!r}: key missing, over 128 bytes or duplicated")
            if not is_payload(payload):
                raise MenuError(f"button {name!r}: payload {payload!r} is not a Rasa payload")
            keys[key] = payload
        elif kind == "view" and not str(b.get("url", "")).startswith(("https://", "http://")):
            raise MenuError(f"button {name!r}: view needs a url")
        return out

    for b in top:
        if not isinstance(b, dict):
            raise MenuError("each button must be a mapping")
        subs = b.get("sub_button")
        if subs is None:
            body.append(leaf(b, 16))
            continue
        name = str(b.get("name", ""))
        if not name or _utf8(name) > 16:
            raise MenuError(f"top-level name {name!r} empty or over 16 bytes")
        if not isinstance(subs, list) or not 1 <= len(subs) <= 5:
            raise MenuError(f"{name!r}: 1 to 5 sub-buttons")
        body.append({"name": name, "sub_button": [leaf(s, 60) for s in subs]})
    return {"button": body}, keys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=MENU_FILE)
    args = parser.parse_args(argv)
    try:
        menu, _ = load_menu(args.file)
    except (MenuError, OSError, yaml.YAMLError) as exc:
        print(f"invalid menu: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(menu, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
