"""Settings → concrete backends: the one composition root. The CLI and the scripts call these;
nothing else reads Settings. Backends are built from their registry entries, so nothing here
branches on a backend's name."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from core.embedder import EMBEDDERS, Embedder
from core.errors import InputError, StoreError
from core.lexical import LexicalIndex
from core.registry import Registry
from core.store import ChromaStore, VectorCollection, check_collection_name
from core.text import Fusion
from ingest.chunking import ChunkConfig
from ingest.manifest import Manifest, ManifestStore
from ingest.transcribe import TRANSCRIBERS
from rag.config import Settings
from rag.models import Resolution, describe, resolve

if TYPE_CHECKING:
    from ingest.media import MediaTranscripts
    from rag.answer import AskOptions, Assistant
    from rag.generate import Generator
    from rag.memory import Memory
    from rag.rerank import Reranker

T = TypeVar("T")


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


def chroma_database(s: Settings) -> Path:
    """Chroma's own SQLite file in an embedded store: `rag doctor` reads chunk texts from it when
    Chroma cannot open a collection's damaged vector index."""
    return s.store_dir / "chroma" / "chroma.sqlite3"


def open_manifest(s: Settings, store: ChromaStore) -> ManifestStore:
    """SQLite beside an embedded store; inside the server for a Chroma server, so that every
    machine ingesting into a shared collection sees the same record."""
    if s.chroma_url:
        from ingest.remote_manifest import ChromaManifest

        return ChromaManifest(store)
    return Manifest(state_dir(s) / "manifest.sqlite")


def lexical_dir(s: Settings, collection: str) -> Path:
    return state_dir(s) / "lexical" / collection


@contextmanager
def ingest_session(
    s: Settings, store: ChromaStore | None = None
) -> Iterator[tuple[ChromaStore, ManifestStore]]:
    """The store and manifest for writing `s.collection`, held exclusively: a file lock on this
    machine, plus the manifest's writer lease (inside the server for a Chroma server)."""
    from ingest.lock import CollectionLock

    check_collection_name(s.collection)
    with CollectionLock(state_dir(s) / "locks", s.collection):
        store = store or open_store(s)
        manifest = open_manifest(s, store)
        try:
            with manifest.writer_lease(s.collection):
                yield store, manifest
        finally:
            manifest.close()


def quiet_transformers() -> None:
    """transformers draws its own progress bars while loading weights; ours are the only ones shown."""
    try:
        from transformers.utils import logging

        logging.disable_progress_bar()
        logging.set_verbosity_error()
    except ImportError:
        pass


def build(registry: Registry[T], backend: str, spec: str, s: Settings, **options: Any) -> T:
    """A backend from its registry entry: its spec resolved to a model folder when the entry is
    a model role, handed over as given otherwise; every backend gets the shared options."""
    entry = registry.entry(backend)
    location = spec
    if entry.model_role is not None:
        quiet_transformers()
        location = resolve(spec, entry.model_role, s.models_dir, s.allow_network)
    shared = {"device": s.device, "quantize": s.quantize, "threads": s.threads, "cache_dir": s.models_dir}
    return registry.make(backend, location, **(shared | options))


def model_location(s: Settings, role: str, spec: str) -> str:
    """Where a model spec resolves (a folder, or a hub id when allowed), converting it if needed."""
    return resolve(spec, role, s.models_dir, s.allow_network)


def describe_backend(registry: Registry[Any], backend: str, spec: str, s: Settings) -> Resolution:
    """`rag models`' row for one role: how the spec resolves, or that the backend takes it as given."""
    entry = registry.entry(backend)
    if entry.model_role is not None:
        return describe(spec, entry.model_role, s.models_dir, s.allow_network)
    return Resolution(
        spec, registry.kind, "backend", backend, "ready", 0, f"{backend} backend, spec used as given"
    )


def model_rows(s: Settings) -> list[Resolution]:
    """One row per configured model role, for `rag models`."""
    return [*_answer_rows(s), describe_backend(TRANSCRIBERS, s.transcriber_backend, s.transcriber, s)]


def _answer_rows(s: Settings) -> list[Resolution]:
    """The roles that answer a question: embedder, reranker (when set), generator, its draft
    generator (when set)."""
    from rag.generate import GENERATORS
    from rag.rerank import RERANKERS

    rows = [describe_backend(EMBEDDERS, s.embedder_backend, s.embedder, s)]
    if s.reranker:
        rows.append(describe_backend(RERANKERS, s.reranker_backend, s.reranker, s))
    rows.append(describe_backend(GENERATORS, s.generator_backend, s.generator, s))
    if s.draft_generator:
        draft = describe_backend(GENERATORS, s.generator_backend, s.draft_generator, s)
        rows.append(dataclasses.replace(draft, role="draft generator"))
    return rows


def first_use(s: Settings) -> Callable[[], Generator]:
    """The generator provider for a command that answers. It says at once what a first question
    will have to build (a pull, a conversion: minutes), before any model loads, so a first run is
    never silent; and a generator still to convert is built right away, before the embedder
    loads, so the conversion's peak memory is not added to the embedder's."""
    import logging

    provider = generator_provider(s)
    first = False
    for row in _answer_rows(s):
        if row.status in ("convert", "pull"):
            logging.getLogger("rag.models").info("first use of %s (%s): %s", row.spec, row.role, row.detail)
            first = first or row.role == "generator"
    if first:
        provider()
    return provider


def transcripts(s: Settings) -> MediaTranscripts:
    """Transcripts of audio and video, cached beside the store; the model loads on first need."""
    from ingest.media import MediaTranscripts

    key = f"{s.transcriber_backend}:{s.transcriber}"
    TRANSCRIBERS.entry(s.transcriber_backend)  # an unknown backend is named now, not mid-ingest
    return MediaTranscripts(
        state_dir(s) / "transcripts",
        key,
        lambda: build(TRANSCRIBERS, s.transcriber_backend, s.transcriber, s, name=key),
    )


def embedder_for_ingest(s: Settings) -> Embedder:
    return _embedder(s.embedder_backend, s.embedder, s)


def _embedder(backend: str, spec: str, s: Settings) -> Embedder:
    # The collection records this name; a query is embedded by the embedder it names.
    return build(EMBEDDERS, backend, spec, s, name=f"{backend}:{spec}")


def embedder_for_collection(s: Settings, collection: VectorCollection) -> Embedder:
    """Queries must be embedded by the embedder that filled the collection."""
    backend, _, spec = collection.embedder.partition(":")
    if not spec:
        raise StoreError(f"collection {collection.name!r} records no embedder; re-ingest it with --reembed")
    return _embedder(backend, spec, s)


def chunk_config(s: Settings, embedder: Embedder) -> ChunkConfig:
    size = max(16, min(s.chunk_tokens, embedder.max_tokens - 2))  # room for [CLS]/[SEP]
    if s.chunk_overlap >= size:
        raise InputError(f"chunk overlap {s.chunk_overlap} must be smaller than the chunk size {size} tokens")
    try:
        return ChunkConfig(size=size, overlap=min(s.chunk_overlap, size // 2))
    except ValueError as exc:
        raise InputError(str(exc)) from None


def keeps_chunking(s: Settings) -> bool:
    """An existing collection keeps its chunk size unless these settings name one."""
    return not {"chunk_tokens", "chunk_overlap"} & s.model_fields_set


def open_collection(s: Settings, name: str, store: ChromaStore | None = None) -> VectorCollection:
    """An existing, non-empty collection to query."""
    collection = (store or open_store(s)).open(name)  # checks the name and that it exists
    if collection.count() == 0:
        raise StoreError(
            f"collection {name!r} is empty: run `rag ingest PATH --collection {name}` to add documents"
        )
    return collection


def reranker(s: Settings) -> Reranker | None:
    from rag.rerank import RERANKERS

    if not s.reranker:
        return None
    return build(RERANKERS, s.reranker_backend, s.reranker, s, name=s.reranker)


def generator_provider(s: Settings) -> Callable[[], Generator]:
    """Loading the generator takes seconds, so it is built on first use (never when abstaining),
    once: the Assistant and a chat's Memory share this provider."""
    from rag.generate import GENERATORS

    @functools.cache
    def provide() -> Generator:
        return build(
            GENERATORS,
            s.generator_backend,
            s.generator,
            s,
            name=s.generator,
            precision=s.generator_precision,
            repetition_penalty=s.repetition_penalty,
            prompt_lookup=s.prompt_lookup,
            draft=model_location(s, "generator", s.draft_generator) if s.draft_generator else None,
            draft_tokens=s.draft_tokens,
        )

    return provide


def fusion(s: Settings) -> Fusion:
    return Fusion(s.fusion, dense_share=s.dense_share, dense_weight=s.dense_weight)


def ask_options(
    s: Settings, embedder_name: str, reranker: Reranker | None, chunk_tokens: int | None = None
) -> AskOptions:
    """`chunk_tokens`: the chunk size the collection was built with (abstention depends on it)."""
    from rag.abstain import calibrated_abstention
    from rag.answer import AskOptions

    abstention = calibrated_abstention(
        embedder_name,
        reranker.name if reranker else None,
        rerank_min=s.rerank_threshold,
        dense_min=s.dense_threshold,
        chunk_tokens=chunk_tokens,
    )
    return AskOptions(
        candidates=s.candidates,
        fusion=fusion(s),
        rerank_top=s.rerank_top,
        rerank_fusion=s.rerank_fusion,
        top_k=s.top_k,
        context_tokens=s.context_tokens,
        context_keep=s.context_keep,
        max_new_tokens=s.max_new_tokens,
        answer_prompt=s.answer_prompt,
        concise_answers=s.concise_answers,
        short_facts=s.short_facts,
        context_neighbours=s.context_neighbours,
        filters_from_question=s.filters_from_question,
        abstention=abstention,
    )


def assistant(
    s: Settings,
    name: str,
    *,
    rerank: bool = True,
    generator: Callable[[], Generator] | None = None,
    resident: Resident | None = None,
) -> Assistant:
    """An Assistant over collection `name`. With `resident` (rag serve), its models come from
    there, loaded once for every collection and request."""
    from core.lexical import synced
    from rag.answer import Assistant
    from rag.retrieve import Retriever

    collection = open_collection(s, name, resident.store if resident else None)
    embedder = resident.embedder(collection) if resident else embedder_for_collection(s, collection)
    lexical = synced(collection, lexical_dir(s, name), save=_cache_when_idle(s, name))
    chosen = (resident.reranker() if resident else reranker(s)) if rerank else None
    options = ask_options(s, collection.embedder, chosen, collection.chunk_tokens)
    return Assistant(
        Retriever(collection, embedder, lexical, fusion=options.fusion),
        chosen,
        generator or (resident.generator if resident else generator_provider(s)),
        embedder.embed,
        options,
    )


class Resident:
    """Models kept loaded between requests: one generator and reranker, an embedder per name a
    collection records. Each is built on first need, so a server that only searches never loads
    the generator."""

    def __init__(self, s: Settings, generator: Callable[[], Generator] | None = None) -> None:
        self.s = s
        # One client for every thread: Chroma clients created concurrently on one path fail.
        self.store = open_store(s)
        self.generator = generator or generator_provider(s)
        self._embedders: dict[str, Embedder] = {}
        self._reranker: list[Reranker | None] = []

    def reopen_store(self) -> None:
        """See what another process wrote to the store (`ChromaStore.reopened`)."""
        self.store = self.store.reopened()

    def embedder(self, collection: VectorCollection) -> Embedder:
        if collection.embedder not in self._embedders:
            self._embedders[collection.embedder] = embedder_for_collection(self.s, collection)
        return self._embedders[collection.embedder]

    def ingest_embedder(self) -> Embedder:
        """The configured embedder, shared with the collections it filled."""
        name = f"{self.s.embedder_backend}:{self.s.embedder}"
        if name not in self._embedders:
            self._embedders[name] = embedder_for_ingest(self.s)
        return self._embedders[name]

    def reranker(self) -> Reranker | None:
        if not self._reranker:
            self._reranker.append(reranker(self.s))
        return self._reranker[0]


def _cache_when_idle(s: Settings, name: str) -> Callable[[LexicalIndex], None]:
    """A query that had to rebuild a stale BM25 index keeps it for the next query, but only when no
    ingest holds the collection: the writer saves its own, newer index."""
    from core.errors import StoreError
    from ingest.lock import CollectionLock

    def save(index: LexicalIndex) -> None:
        try:
            with CollectionLock(state_dir(s) / "locks", name):
                index.save(lexical_dir(s, name))
        except StoreError:
            pass  # an ingest is writing this collection

    return save


def chat(
    s: Settings,
    name: str,
    session: str,
    *,
    rerank: bool = True,
    generator: Callable[[], Generator] | None = None,
) -> tuple[Assistant, Memory]:
    """An Assistant and the Memory of session `session`, sharing one lazily loaded generator."""
    from rag.memory import Memory, Session

    provider = generator or generator_provider(s)
    memory = Memory(Session.load(s.sessions_dir, session), provider, window=s.memory_turns)
    return assistant(s, name, rerank=rerank, generator=provider), memory
