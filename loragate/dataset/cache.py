"""The analysis cache: what a decode or probe measured, keyed by (absolute path, size, mtime_ns).

It lives in `$LORAGATE_CACHE_DIR` (default `~/.cache/loragate`), never inside a dataset, so
re-auditing an unchanged dataset reads rows instead of decoding images. A file that changes gets
a new size or mtime and therefore a new key. The cache is an optimisation only: if it cannot be
opened or written, the audit still runs, just without it.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Iterable

from loragate.workspace import cache_dir

CACHE_FILE = "analysis.sqlite3"
_BATCH = 500


def cache_key(kind: str, version: str, abs_path: str, size: int, mtime_ns: int) -> str:
    return f"{kind}\0{version}\0{abs_path}\0{size}\0{mtime_ns}"


def stat_keys(kind: str, version: str, root: Path, relpaths: Iterable[str]) -> dict[str, str]:
    """relpath -> cache key for each file under `root` that can be stat'ed (the others get none)."""
    keys: dict[str, str] = {}
    for rel in relpaths:
        abs_path = str(root / rel)
        try:
            st = os.stat(abs_path)
        except OSError:
            continue
        keys[rel] = cache_key(kind, version, abs_path, st.st_size, st.st_mtime_ns)
    return keys


class AnalysisCache:
    """A small key -> JSON store in SQLite (safe for concurrent audits thanks to WAL and a busy timeout)."""

    def __init__(self, dataset_root: Path | None = None) -> None:
        self.path: Path | None = None
        folder = cache_dir()
        if dataset_root is not None:
            root = Path(dataset_root).resolve()
            if folder == root or folder.is_relative_to(root):
                return  # never write into the artist's dataset
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.path = folder / CACHE_FILE
            with closing(self._connect()) as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, data TEXT NOT NULL)")
                db.commit()
        except (OSError, sqlite3.Error):
            self.path = None

    @property
    def enabled(self) -> bool:
        return self.path is not None

    def _connect(self) -> sqlite3.Connection:
        assert self.path is not None
        return sqlite3.connect(self.path, timeout=30)

    def get_many(self, keys: Iterable[str]) -> dict[str, str]:
        keys = list(keys)
        if not self.enabled or not keys:
            return {}
        found: dict[str, str] = {}
        try:
            with closing(self._connect()) as db:
                for start in range(0, len(keys), _BATCH):
                    batch = keys[start : start + _BATCH]
                    marks = ",".join("?" * len(batch))
                    found.update(db.execute(f"SELECT key, data FROM entries WHERE key IN ({marks})", batch).fetchall())
        except sqlite3.Error:
            return {}
        return found

    def put_many(self, items: dict[str, str]) -> None:
        if not self.enabled or not items:
            return
        try:
            with closing(self._connect()) as db:
                db.executemany("INSERT OR REPLACE INTO entries (key, data) VALUES (?, ?)", items.items())
                db.commit()
        except sqlite3.Error:
            pass
