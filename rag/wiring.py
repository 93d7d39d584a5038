"""Settings → concrete backends. The CLI calls these; nothing else reads Settings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.chunking import ChunkConfig
from ingest.embedder import Embedder, make_embedder
from ingest.manifest import Manifest, ManifestStore
from ingest.store import ChromaStore, VectorCollection
from rag.config import Settings
from rag.errors import InputError, StoreError
from rag.models import resolve

if TYPE_CHECKING:
    from rag.answer import Assistant


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


def open_manifest(s: Settings, store: ChromaStore) -> ManifestStore:
    """SQLite beside an embedded store; inside the server for a Chroma server, so that every
    machine ingesting into a shared collection sees the same record."""
    if s.chroma_url:
        from ingest.remote_manifest import ChromaManifest

        return ChromaManifest(store)
    return Manifest(state_dir(s) / "manifest.sqlite")


def lexical_dir(s: Settings, collection: str) -> Path:
    return state_dir(s) / "lexical" / collection


def quiet_transformers() -> None:
    """transformers draws its own progress bars while loading weights; ours are the only ones shown."""
    try:
        from transformers.utils import logging

        logging.disable_progress_bar()
        logging.set_verbosity_error()
    except ImportError:
        pass


def _embedder(backend: str, spec: str, s: Settings) -> Embedder:
    if backend == "sentence-transformers":
        quiet_transformers()
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


def open_collection(s: Settings, name: str) -> tuple[ChromaStore, VectorCollection]:
    from ingest.store import check_collection_name

    check_collection_name(name)
    store = open_store(s)
    if name not in store.names():
        raise StoreError(f"no collection {name!r} yet: run `rag ingest PATH --collection {name}` first")
    collection = store.open(name)
    if collection.count() == 0:
        raise StoreError(
            f"collection {name!r} is empty: run `rag ingest PATH --collection {name}` to add documents"
        )
    return store, collection


def assistant(s: Settings, name: str, *, rerank: bool = True) -> Assistant:
    from ingest.lexical import synced
    from rag.answer import AskOptions, Assistant, calibrated_abstention
    from rag.generate import Generator, make_generator
    from rag.rerank import Reranker, make_reranker
    from rag.retrieve import Retriever

    _, collection = open_collection(s, name)
    embedder = embedder_for_collection(s, collection)
    lexical = synced(collection, lexical_dir(s, name))
    reranker: Reranker | None = None
    if rerank and s.reranker:
        spec = s.reranker
        if s.reranker_backend == "cross-encoder":
            spec = resolve(s.reranker, "reranker", s.models_dir, s.allow_network)
        reranker = make_reranker(s.reranker_backend, spec, device=s.device)

    def generator() -> Generator:
        if s.generator_backend == "transformers":
            quiet_transformers()
            path = resolve(s.generator, "generator", s.models_dir, s.allow_network)
            return make_generator(
                "transformers",
                path,
                device=s.device,
                quantize=s.quantize,
                threads=s.threads,
                name=s.generator,
            )
        return make_generator(s.generator_backend, s.generator)

    abstention = calibrated_abstention(collection.embedder, reranker.name if reranker else None)
    if s.rerank_threshold is not None or s.dense_threshold is not None:
        from dataclasses import replace

        abstention = replace(
            abstention,
            rerank_min=s.rerank_threshold if s.rerank_threshold is not None else abstention.rerank_min,
            dense_min=s.dense_threshold if s.dense_threshold is not None else abstention.dense_min,
        )
    options = AskOptions(
        candidates=s.candidates,
        top_k=s.top_k,
        context_tokens=s.context_tokens,
        max_new_tokens=s.max_new_tokens,
        abstention=abstention,
    )
    return Assistant(
        Retriever(collection, embedder, lexical),
        reranker,
        generator,
        lambda texts: embedder.embed(texts),
        options,
    )
