"""What `rag status` reports, read from the store and the manifest (never a scan of the chunks)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from core.store import ChromaStore, CollectionInfo
from ingest.manifest import ManifestStore


@dataclass(frozen=True)
class DocumentRow:
    source: str
    chunks: int
    ingested_at: str


@dataclass(frozen=True)
class CollectionRow:
    """A collection as `rag status` shows it: what the store records, and how many documents the
    manifest holds for it."""

    info: CollectionInfo
    documents: int

    def as_json(self) -> dict[str, object]:
        """The flat record `rag status --json` and the server's /status print."""
        facts = {k: v for k, v in asdict(self.info).items() if k != "name"}
        return {"collection": self.info.name, "documents": self.documents} | facts


def documents(store: ChromaStore, manifest: ManifestStore, collection: str) -> list[DocumentRow]:
    """The documents of one collection as the manifest recorded them, by path."""
    store.open(collection)  # a clear error for a collection that does not exist
    entries = manifest.entries(collection)
    return [DocumentRow(p, e.chunks, e.ingested_at) for p, e in sorted(entries.items())]


def collections(store: ChromaStore, manifest: ManifestStore) -> list[CollectionRow]:
    return [CollectionRow(i, len(manifest.entries(i.name))) for i in store.info()]
