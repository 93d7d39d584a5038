"""Rebuild a collection's vectors from the chunk texts its store holds (`rag doctor --repair`).

The source files are not needed: every chunk's text and metadata are in Chroma's database, read
through Chroma when it can still open the collection, or from its SQLite file when it cannot.
The vectors are embedded again, by the embedder the collection records, into a new collection
beside the damaged one, which is swapped in only once it is whole (`ChromaStore.promote_rebuild`):
a run killed half-way leaves the damaged original, and the next run starts again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.embedder import Embedder
from core.errors import StoreError
from core.integrity import chroma_records
from core.store import ChromaStore, VectorCollection
from core.types import Chunk

BATCH = 128


def rebuild_vectors(
    store: ChromaStore,
    name: str,
    database: Path,
    embedder_for: Callable[[VectorCollection], Embedder],
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Re-embed collection `name` from its stored texts; the number of chunks rebuilt."""
    original = store.open(name)  # its metadata (embedder, chunk size, revision) stays readable
    try:
        records = list(original.iter_records())
    except StoreError:
        records = chroma_records(database, name)
    embedder = embedder_for(original)
    staging = store.stage_rebuild(name, original.metadata)
    # Sorted by length so each batch pads little, as at ingest.
    chunks = sorted((Chunk.from_record(i, t, m) for i, t, m in records), key=lambda c: len(c.text))
    for i in range(0, len(chunks), BATCH):
        part = chunks[i : i + BATCH]
        staging.upsert(part, embedder.embed([c.text for c in part]))
        if on_progress is not None:  # a real embedder takes minutes on a large collection
            on_progress(i + len(part), len(chunks))
    store.promote_rebuild(name)
    return len(chunks)
