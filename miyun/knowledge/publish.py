"""Publishing content: build, compare, swap in atomically, record a version; and roll back."""
from __future__ import annotations

import json
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from miyun.knowledge import build as build_mod
from miyun.knowledge import content as content_mod
from miyun.knowledge.store import ContentStore, iter_rows
from miyun.referrals.runtime import runtime_for
from miyun.settings import Settings

TABLES = ("services", "stations", "articles")


@dataclass
class Published:
    version: Optional[int]
    checksum: str
    changes: dict

    @property
    def changed(self) -> bool:
        return self.version is not None


def staging_path(settings: Settings) -> Path:
    return settings.var_dir / "staging.db"


def archive_dir(settings: Settings) -> Path:
    return settings.var_dir / "versions"


def _rows_by_id(path: Optional[Path], table: str) -> dict[str, dict]:
    if path is None or not path.exists():
        return {}
    return {r["id"]: r for r in iter_rows(path, table)}


def diff_rows(old: dict[str, dict], new: dict[str, dict]) -> dict:
    """Added, removed and changed ids, with the fields that changed."""
    changed = {}
    for ident in sorted(old.keys() & new.keys()):
        fields = sorted(k for k in set(old[ident]) | set(new[ident]) if old[ident].get(k) != new[ident].get(k))
        if fields:
            changed[ident] = fields
    return {"added": sorted(new.keys() - old.keys()), "removed": sorted(old.keys() - new.keys()), "changed": changed}


def diff_files(old: Optional[Path], new: Path) -> dict:
    """Per-table differences between two content database files."""
    out = {}
    for table in TABLES:
        d = diff_rows(_rows_by_id(old, table), _rows_by_id(new, table))
        if d["added"] or d["removed"] or d["changed"]:
            out[table] = d
    return out


def build_staging(settings: Settings) -> dict:
    """Validate the sources and build the staging database (never what residents see)."""
    return build_mod.build(settings.content_dir, staging_path(settings), settings.dictionary_dir, reuse=settings.content_db)


def live_checksum(settings: Settings) -> Optional[str]:
    if not settings.content_db.exists():
        return None
    return ContentStore(settings.content_db).meta().get("checksum")


def _swap_in(source: Path, settings: Settings) -> None:
    """Copy `source` next to the live file, then rename it over the live file in one step."""
    tmp = settings.content_db.with_name(f".{settings.content_db.name}.{os.getpid()}.swap")
    shutil.copyfile(source, tmp)
    os.replace(tmp, settings.content_db)


SOURCE_SUFFIXES = (".yml", ".yaml", ".txt", ".md")


def _source_files(content_dir: Path) -> list[Path]:
    return sorted(p for p in content_dir.rglob("*") if p.is_file() and p.suffix in SOURCE_SUFFIXES)


def snapshot_sources(content_dir: Path, target: Path) -> None:
    """Keep the source files a version was built from, so a rollback can restore them too."""
    tmp = target.with_name(target.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in _source_files(content_dir):
            zf.write(path, path.relative_to(content_dir).as_posix())
    os.replace(tmp, target)


def restore_sources(archive: Path, content_dir: Path) -> None:
    """Make content/ exactly the archived sources: files written back, files added since removed."""
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        for name in names:
            dest = content_dir / name
            if content_dir.resolve() not in dest.resolve().parents:
                raise RollbackError(f"unsafe path in archive: {name}")
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.restore")
            tmp.write_bytes(zf.read(name))
            os.replace(tmp, dest)
    for path in _source_files(content_dir):
        if path.relative_to(content_dir).as_posix() not in names:
            path.unlink()


def sources_archive(settings: Settings, checksum: str) -> Path:
    return archive_dir(settings) / f"content-{checksum[:16]}.sources.zip"


def publish(settings: Settings, by: str, note: str) -> Published:
    """Make the current sources live. A no-op when nothing changed."""
    meta = build_staging(settings)
    staging = staging_path(settings)
    if meta["checksum"] == live_checksum(settings):
        return Published(None, meta["checksum"], {})
    changes = diff_files(settings.content_db if settings.content_db.exists() else None, staging)
    archive = archive_dir(settings) / f"content-{meta['checksum'][:16]}.db"
    archive.parent.mkdir(parents=True, exist_ok=True)
    if not archive.exists():
        shutil.copyfile(staging, archive)
    snapshot_sources(settings.content_dir, sources_archive(settings, meta["checksum"]))
    _swap_in(archive, settings)
    version = runtime_for(settings).record_version(by, note, meta["checksum"], str(archive.name), changes)
    return Published(version, meta["checksum"], changes)


class RollbackError(ValueError):
    """The requested version cannot be restored."""


def rollback(settings: Settings, by: str, version: Optional[int] = None, force: bool = False) -> Published:
    """Make an earlier published version live again (default: the one before the current).

    The content files are restored to that version too, so the next publish cannot quietly
    bring the rolled-back change back. Unpublished edits in the files block a rollback
    (they would be lost) unless `force` is given.
    """
    runtime = runtime_for(settings)
    versions = runtime.versions()
    if not versions:
        raise RollbackError("还没有发布过任何版本 / nothing has been published yet")
    current = live_checksum(settings)
    if version is None:
        earlier = [v for v in versions if v["checksum"] != current]
        if not earlier:
            raise RollbackError("没有可以回滚的更早版本 / no earlier version to roll back to")
        target = earlier[-1]
    else:
        target = runtime.version(version)
        if target is None:
            raise RollbackError(f"版本 {version} 不存在 / version {version} does not exist")
    archive = archive_dir(settings) / target["archive"]
    if not archive.exists():
        raise RollbackError(f"版本 {target['version']} 的存档文件丢失 / archive missing: {archive}")
    if target["checksum"] == current:
        return Published(None, current, {})
    sources = sources_archive(settings, target["checksum"])
    if sources.exists() and not force:
        try:
            # the checksum alone, not a whole build: a rollback is what staff reach for in a hurry
            pending = build_mod.sources_checksum(settings.content_dir, settings.dictionary_dir) != current
        except build_mod.ContentInvalid:
            pending = True
        if pending:
            raise RollbackError(
                "content/ 里有尚未发布的修改，回滚会覆盖它们；请先发布或撤销这些修改，或使用 --force / "
                "content/ has unpublished edits that a rollback would overwrite: publish or undo them first, or use --force"
            )
    changes = diff_files(settings.content_db, archive)
    _swap_in(archive, settings)
    if sources.exists():
        restore_sources(sources, settings.content_dir)
    new_version = runtime.record_version(
        by, f"回滚到第{target['version']}版 / rollback to v{target['version']}", target["checksum"], target["archive"], changes, "rollback"
    )
    return Published(new_version, target["checksum"], changes)


def source_diff(settings: Settings) -> dict:
    """What the sources would change compared with the published version."""
    build_staging(settings)
    return diff_files(settings.content_db if settings.content_db.exists() else None, staging_path(settings))


def stale(settings: Settings, today, max_age_days: int = 365) -> list[dict]:
    """Entries never verified, or verified more than `max_age_days` ago."""
    import datetime as dt

    loaded = content_mod.load(settings.content_dir)
    out = []
    for kind, entry in content_mod.all_entries(loaded):
        verified = content_mod.iso(entry.get("verified"))
        age = (today - dt.date.fromisoformat(verified)).days if verified else None
        if verified is None or age > max_age_days:
            out.append({"kind": kind, "id": entry["id"], "file": entry["_file"], "verified": verified or "未核实 / never", "age_days": age})
    return out


def format_changes(changes: dict) -> str:
    return json.dumps(changes, ensure_ascii=False, indent=2)
