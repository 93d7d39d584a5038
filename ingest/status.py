"""What `rag status` reports, read from the store and the manifest (never a scan of the chunks)."""

from __future__ import annotations

from dataclasses import dataclass

from core.store import ChromaStore
from ingest.manifest import ManifestStore


@dataclass(frozen=True)
class DocumentRow:
    source: str
    chunks: int
    ingested_at: str


@dataclass(frozen=True)
class CollectionRow:
    collection: str
    documents: int
    chunks: int
    embedder: str
    dim: int
    last_ingest: str | None
    chunk_tokens: int | None = None


def documents(store: ChromaStore, manifest: ManifestStore, collection: str) -> list[DocumentRow]:
    """The documents of one collection as the manifest recorded them, by path."""
    store.open(collection)  # a clear error for a collection that does not exist
    entries = manifest.entries(collection)
    return [DocumentRow(p, e.chunks, e.ingested_at) for p, e in sorted(entries.items())]


def collections(store: ChromaStore, manifest: ManifestStore) -> list[CollectionRow]:
    return [
        CollectionRow(
            i.name, len(manifest.entries(i.name)), i.chunks, i.embedder, i.dim, i.last_ingest, i.chunk_tokens
        )
        for i in store.info()
    ]
