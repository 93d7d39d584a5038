"""Rebuild a collection's vectors from the chunk texts its store holds (`rag doctor --repair`).

The source files are not needed: every chunk's text and metadata are in Chroma's database, read
through Chroma when it can still open the collection, or from its SQLite file when it cannot.
The vectors are embedded again, by the embedder the collection records, into a new collection
beside the damaged one, which is swapped in only once it is whole (`ChromaStore.promote_rebuild`):
a run killed half-way leaves the damaged original, and the next run starts again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.embedder import Embedder, embed_documents
from core.errors import StoreError
from core.integrity import chroma_records
from core.store import ChromaStore, VectorCollection
from core.types import Chunk


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
    chunks = [Chunk.from_record(i, t, m) for i, t, m in records]
    done = [0]

    def embedded(n: int) -> None:
        done[0] += n
        if on_progress is not None:
            on_progress(done[0], len(chunks))

    staging.upsert(chunks, embed_documents(embedder, [c.text for c in chunks], embedded))
    store.promote_rebuild(name)
    return len(chunks)
