"""What has been ingested: one row per (collection, file) with its hash, size, mtime and the config
that produced its chunks. SQLite, so each file's entry commits atomically and a killed run
leaves a consistent record.

The sync protocol built on it (see pipeline): a file's row is removed *before* its chunks are
touched and written back only after the store holds its new chunks. A run killed in between leaves
the file without a row, so the next run redoes it; chunk ids are content-derived, so redoing it
converges to the same chunks without duplicates.
"""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from core.errors import StoreError


@dataclass(frozen=True)
class FileEntry:
    path: str
    sha256: str
    size: int
    mtime_ns: int
    config: str
    chunks: int
    ingested_at: str


class ManifestStore(Protocol):
    """What the pipeline needs from a manifest: SQLite beside an embedded store (`Manifest`),
    or a companion collection on a Chroma server (`ingest.remote_manifest.ChromaManifest`)."""

    def entries(self, collection: str) -> dict[str, FileEntry]: ...
    def put(self, collection: str, entry: FileEntry) -> None: ...
    def remove(self, collection: str, path: str) -> None: ...
    def drop_collection(self, collection: str) -> None: ...
    def record_run(self, collection: str, summary: str) -> None: ...
    def last_run(self, collection: str) -> str | None: ...
    def close(self) -> None: ...

    def writer_lease(self, collection: str) -> AbstractContextManager[object]:
        """Held while an ingest writes `collection`: nothing more for SQLite (the local file lock
        covers it), a lease inside the server for a shared Chroma server."""
        ...


class Manifest:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        try:
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS files (collection TEXT, path TEXT, sha256 TEXT, size INTEGER,"
                " mtime_ns INTEGER, config TEXT, chunks INTEGER, ingested_at TEXT, PRIMARY KEY (collection, path))"
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS runs (collection TEXT, finished_at TEXT, summary TEXT)"
            )
            self._db.execute("SELECT count(*) FROM files").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"the manifest {path} is damaged ({exc}); `rag doctor --repair` rebuilds it from the store"
            ) from None

    def close(self) -> None:
        self._db.close()

    def writer_lease(self, collection: str) -> AbstractContextManager[object]:
        return nullcontext()

    def entries(self, collection: str) -> dict[str, FileEntry]:
        rows = self._db.execute(
            "SELECT path, sha256, size, mtime_ns, config, chunks, ingested_at FROM files WHERE collection=?",
            (collection,),
        ).fetchall()
        return {r[0]: FileEntry(*r) for r in rows}

    def put(self, collection: str, entry: FileEntry) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?)",
            (
                collection,
                entry.path,
                entry.sha256,
                entry.size,
                entry.mtime_ns,
                entry.config,
                entry.chunks,
                entry.ingested_at,
            ),
        )

    def remove(self, collection: str, path: str) -> None:
        self._db.execute("DELETE FROM files WHERE collection=? AND path=?", (collection, path))

    def drop_collection(self, collection: str) -> None:
        self._db.execute("DELETE FROM files WHERE collection=?", (collection,))

    def record_run(self, collection: str, summary: str) -> None:
        self._db.execute("INSERT INTO runs VALUES (?,?,?)", (collection, now_iso(), summary))

    def last_run(self, collection: str) -> str | None:
        row = self._db.execute(
            "SELECT finished_at FROM runs WHERE collection=? ORDER BY rowid DESC LIMIT 1", (collection,)
        ).fetchone()
        return row[0] if row else None


def sha256_file(path: Path) -> str:
    """The digest the manifest records for a file (and `rag models pull` checks a wheel by)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
