"""Settings → concrete backends. The CLI calls these; nothing else reads Settings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from core.embedder import Embedder, make_embedder
from core.store import ChromaStore, VectorCollection
from ingest.chunking import ChunkConfig
from ingest.manifest import Manifest, ManifestStore
from rag.config import Settings
from rag.errors import InputError, StoreError
from rag.models import resolve

if TYPE_CHECKING:
    from collections.abc import Callable

    from rag.answer import AskOptions, Assistant
    from rag.generate import Generator
    from rag.rerank import Reranker


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
    from core.store import check_collection_name

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


def reranker(s: Settings) -> Reranker | None:
    from rag.rerank import make_reranker

    if not s.reranker:
        return None
    if s.reranker_backend != "cross-encoder":
        return make_reranker(s.reranker_backend, s.reranker)
    quiet_transformers()
    spec = resolve(s.reranker, "reranker", s.models_dir, s.allow_network)
    return make_reranker(s.reranker_backend, spec, device=s.device, quantize=s.quantize, name=s.reranker)


def generator_factory(s: Settings) -> Callable[[], Generator]:
    """Loading the generator takes seconds, so it is built on first use (never when abstaining)."""
    from rag.generate import make_generator

    def build() -> Generator:
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
                int8_cache=s.models_dir / "int8",
            )
        return make_generator(s.generator_backend, s.generator)

    return build


def ask_options(s: Settings, embedder_name: str, reranker: Reranker | None) -> AskOptions:
    from dataclasses import replace

    from rag.answer import AskOptions, calibrated_abstention

    abstention = calibrated_abstention(embedder_name, reranker.name if reranker else None)
    if s.rerank_threshold is not None:
        abstention = replace(abstention, rerank_min=s.rerank_threshold)
    if s.dense_threshold is not None:
        abstention = replace(abstention, dense_min=s.dense_threshold)
    return AskOptions(
        candidates=s.candidates,
        top_k=s.top_k,
        context_tokens=s.context_tokens,
        max_new_tokens=s.max_new_tokens,
        rerank_fusion=s.rerank_fusion,
        abstention=abstention,
    )


def assistant(s: Settings, name: str, *, rerank: bool = True) -> Assistant:
    from core.lexical import synced
    from rag.answer import Assistant
    from rag.retrieve import Retriever

    _, collection = open_collection(s, name)
    embedder = embedder_for_collection(s, collection)
    lexical = synced(collection, lexical_dir(s, name))
    chosen = reranker(s) if rerank else None
    options = ask_options(s, collection.embedder, chosen)
    return Assistant(
        Retriever(collection, embedder, lexical), chosen, generator_factory(s), embedder.embed, options
    )
