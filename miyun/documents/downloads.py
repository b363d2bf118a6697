"""The short-lived download store shared by the action server (writes) and the gateway (serves).

One directory per document under var/documents/, named by the SHA-256 of a random token, so the
names on disk are no use as links. Everything is deleted at its expiry (default 30 minutes); nothing
about the contents is kept anywhere else. A web-chat document is bound to the chat session that made it.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

FORMATS = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "txt": "text/plain; charset=utf-8",
}
_TOKEN_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def owner_hash(sender_id: str) -> str:
    """What binds a document to its conversation (the Rasa sender id, e.g. web:<session>)."""
    return hashlib.sha256(f"miyun-document:{sender_id}".encode()).hexdigest()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Download:
    path: Path
    filename: str
    media_type: str


class DownloadStore:
    def __init__(self, directory: Path, ttl_s: float, clock: Callable[[], float] = time.time) -> None:
        self.directory = Path(directory)
        self.ttl_s = ttl_s
        self.clock = clock

    def put(self, *, kind: str, title: str, sender_id: str, files: dict[str, bytes]) -> str:
        """Store the files (fmt -> bytes) and return the token for the links."""
        self.purge()
        token = secrets.token_urlsafe(24)
        final = self.directory / _digest(token)
        tmp = self.directory / f".tmp-{secrets.token_hex(8)}"
        tmp.mkdir(parents=True, mode=0o700)
        for fmt, data in files.items():
            if fmt not in FORMATS:
                raise ValueError(f"unknown format {fmt}")
            (tmp / f"document.{fmt}").write_bytes(data)
        meta = {"kind": kind, "title": title, "owner": owner_hash(sender_id),
                "channel": sender_id.split(":", 1)[0], "expires": self.clock() + self.ttl_s, "formats": sorted(files)}
        (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        tmp.rename(final)  # atomic: the gateway never sees half a document
        return token

    def _meta(self, token: str) -> tuple[Path, dict] | None:
        if not isinstance(token, str) or not 16 <= len(token) <= 64 or not set(token) <= _TOKEN_CHARS:
            return None
        folder = self.directory / _digest(token)
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if meta.get("expires", 0) <= self.clock():
            shutil.rmtree(folder, ignore_errors=True)
            return None
        return folder, meta

    def info(self, token: str) -> dict | None:
        """title, kind, channel and formats of a live document (never its owner)."""
        found = self._meta(token)
        if not found:
            return None
        meta = found[1]
        return {k: meta[k] for k in ("title", "kind", "channel", "formats", "expires")}

    def open(self, token: str, fmt: str, session_sender: str | None) -> Download | None:
        """The file for a link, or None (unknown, expired, wrong format or another session's web document)."""
        self.purge()
        found = self._meta(token)
        if not found or fmt not in FORMATS:
            return None
        folder, meta = found
        if meta.get("channel") == "web":
            if not session_sender or not hmac.compare_digest(owner_hash(session_sender), meta.get("owner", "")):
                return None
        path = folder / f"document.{fmt}"
        if not path.is_file():
            return None
        return Download(path, f"{meta['title']}.{fmt}", FORMATS[fmt])

    def read(self, token: str, fmt: str, sender_id: str) -> bytes | None:
        """The bytes for the channel that owns the document (Telegram's sendDocument, WeChat's text)."""
        found = self._meta(token)
        if not found or not hmac.compare_digest(owner_hash(sender_id), found[1].get("owner", "")):
            return None
        path = found[0] / f"document.{fmt}"
        return path.read_bytes() if path.is_file() else None

    def purge(self) -> int:
        """Delete every expired document (and stray temp folders); returns how many went."""
        if not self.directory.is_dir():
            return 0
        removed = 0
        now = self.clock()
        for folder in self.directory.iterdir():
            if not folder.is_dir():
                continue
            try:
                expires = json.loads((folder / "meta.json").read_text(encoding="utf-8")).get("expires", 0)
            except (OSError, ValueError):
                # A temp folder older than a minute was left by a crash; a fresh one is being written.
                expires = folder.stat().st_mtime + 60 if folder.name.startswith(".tmp-") else 0
            if expires <= now:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed
