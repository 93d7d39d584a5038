"""`rag doctor`: check an embedded store's files and rebuild what can be rebuilt.

The vectors and texts live in Chroma. A damaged vector index is rebuilt from the texts
(`ingest.rebuild`). The manifest (what was ingested from which file) and the
BM25 indexes are derived from them. A damaged BM25 index is rebuilt from the collection. A damaged
manifest is moved aside and rebuilt with one row per source the collection holds, marked so that
the next `rag ingest` re-reads each file and replaces its chunks: the result is what a clean
ingest gives, without guessing which chunks a killed run left complete."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.embedder import Embedder
from core.errors import RagError, StoreError
from core.integrity import vector_problem
from core.lexical import LexicalIndex, synced
from core.store import ChromaStore, VectorCollection
from ingest.manifest import FileEntry, Manifest, now_iso
from ingest.rebuild import rebuild_vectors


@dataclass(frozen=True)
class Finding:
    part: str  # what was checked
    state: str  # ok | damaged | repaired | missing
    detail: str = ""


@dataclass(frozen=True)
class StoreFiles:
    """Where an embedded store keeps what `doctor` checks, and how to embed a collection again."""

    store: ChromaStore
    database: Path  # Chroma's SQLite file
    manifest: Path
    lexical_dir: Callable[[str], Path]
    embedder_for: Callable[[VectorCollection], Embedder]


Progress = Callable[[str, int, int], None]  # (what, done, total)


def doctor(files: StoreFiles, *, repair: bool, on_progress: Progress | None = None) -> list[Finding]:
    store = files.store
    try:
        pending = store.pending_rebuilds()
        if repair:
            for name in pending:
                store.promote_rebuild(name)
        names = store.names()
    except Exception as exc:  # Chroma's own errors vary by version; the store is what is named
        return [
            Finding(
                f"store {store.location}",
                "damaged",
                f"{type(exc).__name__}: {exc}; re-ingest into a new --store",
            )
        ]
    findings = [Finding(f"store {store.location}", "ok", f"{len(names)} collection(s)")]
    findings += [_unfinished(name, repair) for name in pending]
    findings += [_vectors(files, name, repair, on_progress) for name in names]
    findings.append(_manifest(store, files.manifest, names, repair))
    for name in names:
        findings.append(_lexical(store, name, files.lexical_dir(name), repair))
    return findings


def _unfinished(name: str, repair: bool) -> Finding:
    part = f"vectors of {name!r}"
    if repair:
        return Finding(part, "repaired", "an interrupted rebuild was whole; swapped in")
    return Finding(part, "damaged", "an interrupted rebuild waits to be swapped in: run with --repair")


def _vectors(files: StoreFiles, name: str, repair: bool, on_progress: Progress | None) -> Finding:
    part = f"vectors of {name!r}"
    try:
        problem = vector_problem(files.store.open(name))
    except StoreError as exc:
        problem = f"unreadable ({exc.reason})"
    if not problem:
        return Finding(part, "ok")
    if not repair:
        return Finding(part, "damaged", f"{problem}; --repair embeds its chunks again from their texts")
    report = (lambda done, total: on_progress(f"re-embedding {name}", done, total)) if on_progress else None
    chunks = rebuild_vectors(files.store, name, files.database, files.embedder_for, report)
    problem = vector_problem(files.store.open(name))
    if problem:
        return Finding(part, "damaged", f"rebuilt {chunks} chunks, still {problem}")
    return Finding(part, "repaired", f"embedded {chunks} chunks again from their stored texts")


def _manifest(store: ChromaStore, path: Path, names: list[str], repair: bool) -> Finding:
    part = f"manifest {path}"
    try:
        Manifest(path).close()
        return Finding(part, "ok")
    except RagError as exc:
        if not repair:
            return Finding(part, "damaged", f"{exc}")
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(path, aside)
    for extra in ("-wal", "-shm"):
        Path(f"{path}{extra}").unlink(missing_ok=True)
    manifest = Manifest(path)
    try:
        rows = 0
        for name in names:
            counts = Counter(
                str(meta.get("source", ""))
                for _, _, meta in store.open(name).iter_records(include_text=False)
            )
            for source, chunks in counts.items():
                # Empty digest and config: the next ingest re-reads the file and replaces its chunks.
                manifest.put(name, FileEntry(source, "", 0, 0, "", chunks, now_iso()))
                rows += 1
    finally:
        manifest.close()
    return Finding(
        part,
        "repaired",
        f"rebuilt {rows} file row(s) from the store; the damaged file is {aside.name}; run `rag ingest` again",
    )


def _lexical(store: ChromaStore, name: str, folder: Path, repair: bool) -> Finding:
    part = f"BM25 index of {name!r}"
    collection = store.open(name)
    index = LexicalIndex.load(folder)
    revision = str(collection.metadata.get("revision", ""))
    if index is not None and index.revision == revision:
        return Finding(part, "ok", f"{len(index.ids)} chunks")
    state = "missing" if not folder.exists() else "damaged" if index is None else "stale"
    if not repair:
        return Finding(part, state, "rebuilt from the store on next use, or now with --repair")
    rebuilt = synced(collection, folder)
    return Finding(part, "repaired", f"rebuilt from the store ({len(rebuilt.ids) if rebuilt else 0} chunks)")
