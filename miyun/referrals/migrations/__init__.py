"""Versioned schema migrations of the runtime store, one folder per database.

`sqlite/NNNN_name.sql` and `postgres/NNNN_name.sql` are applied in order, each once, when a
store opens; `schema_migrations(version, name, applied_at)` records what has been applied.
Add a change as the next number in BOTH folders (the contract test checks they stay in step).
Never edit a migration that has shipped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load(dialect: str) -> list[Migration]:
    """The migrations of one dialect (`sqlite` or `postgres`), oldest first."""
    folder = HERE / dialect
    if not folder.is_dir():
        raise ValueError(f"no migrations for dialect {dialect!r}")
    out = []
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"badly named migration {path} (want NNNN_name.sql)")
        out.append(Migration(int(match.group(1)), match.group(2), path.read_text(encoding="utf-8")))
    versions = [m.version for m in out]
    if versions != list(range(1, len(out) + 1)):
        raise ValueError(f"{dialect} migrations must be numbered 1..n without gaps, got {versions}")
    return out
