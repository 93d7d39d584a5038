"""Settings → concrete backends. The CLI calls these; nothing else reads Settings."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.chunking import ChunkConfig
from ingest.embedder import Embedder, make_embedder
from ingest.manifest import Manifest
from ingest.store import ChromaStore, VectorCollection
from rag.config import Settings
from rag.errors import InputError, StoreError
from rag.models import resolve


def state_dir(s: Settings) -> Path:
    """Where the manifest and lexical index live: beside an embedded store, or, for a server,
    under $RAG_HOME/remote/<host_port> on the machine that ingests (rebuilt from the server)."""
    if s.chroma_url:
        slug = re.sub(r"[^A-Za-z0-9]+", "_", s.chroma_url.split("://")[-1]).strip("_")
        return s.home / "remote" / slug
    return s.store_dir


def open_store(s: Settings) -> ChromaStore:
    if s.chroma_url:
        return ChromaStore(url=s.chroma_url, token=s.chroma_token)
    return ChromaStore(s.store_dir / "chroma")


def open_manifest(s: Settings) -> Manifest:
    return Manifest(state_dir(s) / "manifest.sqlite")


def lexical_dir(s: Settings, collection: str) -> Path:
    return state_dir(s) / "lexical" / collection


def _embedder(backend: str, spec: str, s: Settings) -> Embedder:
    if backend == "sentence-transformers":
        path = resolve(spec, "embedder", s.models_dir, s.allow_network)
        return make_embedder(backend, path, name=f"{backend}:{spec}", device=s.device)
    return make_embedder(backend, spec, name=f"{backend}:{spec}")


def embedder_for_ingest(s: Settings) -> Embedder:
    return _embedder(s.embedder_backend, s.embedder, s)


def embedder_for_collection(s: Settings, collection: VectorCollection) -> Embedder:
    """Queries must be embedded by the embedder that filled the collection."""
    backend, _, spec = collection.embedder.partition(":")
    if not spec:
        raise StoreError(f"collection {collection.name!r} records no embedder; re-ingest it with --reembed")
    return _embedder(backend, spec, s)


def chunk_config(s: Settings, embedder: Embedder) -> ChunkConfig:
    size = s.chunk_tokens or max(16, embedder.max_tokens - 2)  # room for [CLS]/[SEP]
    try:
        return ChunkConfig(size=size, overlap=min(s.chunk_overlap, size // 2))
    except ValueError as exc:
        raise InputError(str(exc)) from None
