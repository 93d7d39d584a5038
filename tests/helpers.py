"""Builders shared by tests: a real Chroma in a temp dir with the hash embedder."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from core.embedder import make_embedder
from core.store import ChromaStore
from ingest.chunking import ChunkConfig
from ingest.manifest import Manifest
from ingest.pipeline import IngestOptions, Ingestor, IngestReport


class Env:
    def __init__(self, base: Path, dim: int = 64) -> None:
        self.base = base
        self.store = ChromaStore(base / "chroma")
        self.manifest = Manifest(base / "manifest.sqlite")
        self.embedder = make_embedder("hash", str(dim))
        self.options = IngestOptions(collection="test", chunk=ChunkConfig(size=64, overlap=8))

    def lexical_dir(self, collection: str = "test") -> Path:
        return self.base / "lexical" / collection

    def ingest(self, root: Path, **changes: object) -> IngestReport:
        options = replace(self.options, **changes)  # type: ignore[arg-type]
        return Ingestor(
            self.store, self.manifest, self.embedder, self.lexical_dir(options.collection), options
        ).run(root)

    def snapshot(self, collection: str = "test") -> dict[str, tuple[str, str]]:
        col = self.store.open(collection)
        return {i: (t, str(m.get("source"))) for i, t, m in col.iter_records()}
