"""The store contract over Chroma, embedded on disk or a server over HTTP.

A collection records the embedder that filled it (name and dimension) in its metadata, so a query
or a later ingest with another embedder is refused instead of silently mixing vector spaces.
Chroma's own default embedding function is never used: vectors always come from our embedder.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import EmbedderMismatch, InputError, StoreError
from core.types import Chunk

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]$")
BATCH = 2000
SCHEMA = 1
MANIFEST_SUFFIX = ".manifest"  # companion collections that hold a server-side manifest
REBUILD_SUFFIX = ".rebuild"  # a collection's vectors being rebuilt by `rag doctor --repair`


def check_collection_name(name: str) -> str:
    if not _NAME.match(name) or ".." in name:
        raise InputError(
            f"invalid collection name {name!r}: use 3-512 letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    chunks: int
    embedder: str
    dim: int
    last_ingest: str | None
    chunk_tokens: int | None = None  # recorded by ingest; None for a collection from before that


class VectorCollection:
    """One Chroma collection of chunks: vectors plus the metadata citations and filters need, and
    the embedder that filled it (queries must use the same one)."""

    def __init__(self, raw: Any, errors: Callable[[], AbstractContextManager[None]] = nullcontext) -> None:
        self._raw = raw
        self._errors = errors
        self.name: str = raw.name
        # A rebuild swapped in under the same name (and revision) is another collection to Chroma.
        self.uid: str = str(getattr(raw, "id", ""))
        meta = raw.metadata or {}
        self.embedder: str = str(meta.get("embedder", ""))
        self.dim: int = int(meta.get("dim", 0))

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self._raw.metadata or {})

    @property
    def chunk_tokens(self) -> int | None:
        """The chunk size ingest recorded; None for a collection built before it was recorded."""
        size = self.metadata.get("chunk_tokens")
        return size if isinstance(size, int) else None

    def set_metadata(self, **values: Any) -> None:
        merged = {**self.metadata, **values}
        with self._errors():
            self._raw.modify(metadata=merged)

    def count(self) -> int:
        with self._errors():
            return int(self._raw.count())

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        for i in range(0, len(chunks), BATCH):
            part = chunks[i : i + BATCH]
            with self._errors():
                self._raw.upsert(
                    ids=[c.id for c in part],
                    embeddings=vectors[i : i + BATCH],
                    documents=[c.text for c in part],
                    metadatas=[c.to_metadata() for c in part],
                )

    def update_metadata(self, chunks: Sequence[Chunk]) -> None:
        for i in range(0, len(chunks), BATCH):
            part = chunks[i : i + BATCH]
            with self._errors():
                self._raw.update(ids=[c.id for c in part], metadatas=[c.to_metadata() for c in part])

    def delete(self, ids: Sequence[str]) -> None:
        ids = list(ids)
        for i in range(0, len(ids), BATCH):
            with self._errors():
                self._raw.delete(ids=ids[i : i + BATCH])

    def ids_for_source(self, source: str) -> set[str]:
        with self._errors():
            return set(self._raw.get(where={"source": source}, include=[])["ids"])

    def ids(self, limit: int | None = None, offset: int = 0) -> list[str]:
        with self._errors():
            return list(self._raw.get(include=[], limit=limit, offset=offset)["ids"])

    def vectors(self, ids: Sequence[str]) -> list[np.ndarray]:
        """The stored vectors of `ids`, in that order."""
        with self._errors():
            res = self._raw.get(ids=list(ids), include=["embeddings"])
        by_id = dict(zip(res["ids"], res["embeddings"], strict=True))
        return [np.asarray(by_id[i], dtype=np.float32) for i in ids if i in by_id]

    def sources(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, _, meta in self.iter_records(include_text=False):
            src = str(meta.get("source", ""))
            counts[src] = counts.get(src, 0) + 1
        return counts

    def get(self, ids: Sequence[str]) -> list[Chunk]:
        if not ids:
            return []
        with self._errors():
            res = self._raw.get(ids=list(ids), include=["documents", "metadatas"])
        by_id = {
            i: Chunk.from_record(i, d or "", m or {})
            for i, d, m in zip(res["ids"], res["documents"], res["metadatas"], strict=True)
        }
        return [by_id[i] for i in ids if i in by_id]

    def get_where(self, where: dict[str, Any]) -> list[Chunk]:
        with self._errors():
            res = self._raw.get(where=where, include=["documents", "metadatas"])
        return [
            Chunk.from_record(i, d or "", m or {})
            for i, d, m in zip(res["ids"], res["documents"], res["metadatas"], strict=True)
        ]

    def search(
        self, vector: np.ndarray, k: int, where: dict[str, Any] | None = None
    ) -> list[tuple[Chunk, float]]:
        """Nearest chunks with cosine similarity (1 - cosine distance)."""
        # chromadb >= 1.x returns what it has when k exceeds the collection (or the filter), so no
        # count() first: that was a second round trip per query against a server.
        with self._errors():
            res = self._raw.query(
                query_embeddings=[vector],
                n_results=k,
                where=where or None,
                include=["documents", "metadatas", "distances"],
            )
        out = []
        for i, d, m, dist in zip(
            res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0], strict=True
        ):
            out.append((Chunk.from_record(i, d or "", m or {}), 1.0 - float(dist)))
        return out

    def iter_records(
        self, *, include_text: bool = True, page: int = 5000
    ) -> Iterator[tuple[str, str, dict[str, Any]]]:
        include = ["documents", "metadatas"] if include_text else ["metadatas"]
        offset = 0
        while True:
            with self._errors():
                res = self._raw.get(include=include, limit=page, offset=offset)
            ids = res["ids"]
            if not ids:
                return
            docs = res["documents"] if include_text else [""] * len(ids)
            for i, d, m in zip(ids, docs, res["metadatas"], strict=True):
                yield i, d or "", m or {}
            offset += len(ids)


class ChromaStore:
    """One Chroma database: an on-disk folder (default) or a server at `url`."""

    def __init__(self, path: Path | None = None, *, url: str | None = None, token: str | None = None) -> None:
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False)
        self.location = url or str(path)
        self.remote = bool(url)
        try:
            if url:
                from urllib.parse import urlparse

                parsed = urlparse(url if "://" in url else f"http://{url}")
                headers = {"Authorization": f"Bearer {token}"} if token else None
                self.client = chromadb.HttpClient(
                    host=parsed.hostname or "localhost",
                    port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                    ssl=parsed.scheme == "https",
                    headers=headers,
                    settings=settings,
                )
                self.client.heartbeat()
            else:
                assert path is not None
                path.mkdir(parents=True, exist_ok=True)
                self.client = chromadb.PersistentClient(path=str(path), settings=settings)
        except (ValueError, ConnectionError, OSError) as exc:
            raise StoreError(
                f"cannot open Chroma store at {self.location}: {str(exc).splitlines()[0]}"
            ) from None
        except Exception as exc:  # chromadb wraps transport errors in its own types
            raise StoreError(
                f"cannot open Chroma store at {self.location}: {type(exc).__name__}: {exc}"
            ) from None

    def reopened(self) -> ChromaStore:
        """A new client over the same database, reading what other processes wrote since this one
        opened it. An embedded client keeps each collection's vector index as it first loaded it:
        after a `rag ingest` in another process, a running server searched the old index and failed
        with "Error finding id" until restarted. Requests already under way keep the old client."""
        if self.remote:
            return self  # a Chroma server serves every client the same index
        from chromadb.api.shared_system_client import SharedSystemClient

        # Chroma shares one System per path in a process; without this the new client gets it back.
        SharedSystemClient._identifier_to_system.pop(getattr(self.client, "_identifier", ""), None)
        return ChromaStore(Path(self.location))

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Transport and server failures → one StoreError; our own errors pass through."""
        try:
            yield
        except (StoreError, InputError):
            raise
        except Exception as exc:
            first = str(exc).splitlines()[0] if str(exc) else ""
            if "hnsw" in first.lower() and not self.remote:
                raise StoreError(
                    f"the vector index in {self.location} is damaged ({type(exc).__name__}: {first}). "
                    "Run `rag doctor --repair` to rebuild it from the texts the store holds",
                    f"{type(exc).__name__}: {first}",
                ) from None
            raise StoreError(
                f"Chroma store at {self.location} failed: {type(exc).__name__}: {first}. "
                "What was written is consistent; run the command again once the store is reachable",
                f"{type(exc).__name__}: {first}",
            ) from None

    def names(self) -> list[str]:
        """The collections of chunks: not the companions that hold a manifest or a rebuild."""
        return sorted(n for n in self._raw_names() if not n.endswith((MANIFEST_SUFFIX, REBUILD_SUFFIX)))

    def open(self, name: str) -> VectorCollection:
        check_collection_name(name)
        if name not in self.names():
            raise StoreError(
                f"no collection {name!r} in {self.location}; run `rag ingest PATH --collection {name}` first"
            )
        return self._get(name)

    def open_for_write(
        self, name: str, embedder: str, dim: int, *, replace: bool = False
    ) -> VectorCollection:
        """Open or create a collection bound to `embedder`; refuse another embedder unless `replace`."""
        check_collection_name(name)
        if name in self.names():
            col = self._get(name)
            if col.embedder == embedder and col.dim == dim:
                return col
            if not replace:
                raise EmbedderMismatch(
                    f"collection {name!r} was built with embedder {col.embedder} (dim {col.dim}); "
                    f"this run uses {embedder} (dim {dim}). Re-run with --reembed to rebuild it with the "
                    "new embedder, or choose another --collection"
                )
            with self.errors():
                self.client.delete_collection(name)
        with self.errors():
            raw = self.client.create_collection(
                name,
                embedding_function=None,
                metadata={"embedder": embedder, "dim": dim, "rag_schema": SCHEMA},
                configuration={"hnsw": {"space": "cosine"}},
            )
        return VectorCollection(raw, self.errors)

    def _get(self, name: str) -> VectorCollection:
        with self.errors():
            return VectorCollection(self.client.get_collection(name, embedding_function=None), self.errors)

    def _raw_names(self) -> list[str]:
        """Every collection in the database, companions included."""
        with self.errors():
            listed = self.client.list_collections()
        return [c.name if hasattr(c, "name") else str(c) for c in listed]

    def stage_rebuild(self, name: str, metadata: dict[str, Any]) -> VectorCollection:
        """An empty collection beside `name` to rebuild it into; a leftover one is dropped first."""
        staging = name + REBUILD_SUFFIX
        with self.errors():
            if staging in self._raw_names():
                self.client.delete_collection(staging)
            raw = self.client.create_collection(
                staging,
                embedding_function=None,
                metadata=metadata,
                configuration={"hnsw": {"space": "cosine"}},
            )
        return VectorCollection(raw, self.errors)

    def promote_rebuild(self, name: str) -> None:
        """Swap the filled rebuild in: the original is dropped only once its copy is whole, so a run
        killed in between leaves either the original or the whole copy (`pending_rebuilds`)."""
        staging = name + REBUILD_SUFFIX
        with self.errors():
            raw = self.client.get_collection(staging, embedding_function=None)
            if name in self._raw_names():
                self.client.delete_collection(name)
            raw.modify(name=name)

    def pending_rebuilds(self) -> list[str]:
        """Collections whose whole rebuild was not swapped in yet (their original is gone)."""
        raw = self._raw_names()
        cut = len(REBUILD_SUFFIX)
        return [n[:-cut] for n in raw if n.endswith(REBUILD_SUFFIX) and n[:-cut] not in raw]

    def drop(self, name: str) -> None:
        if name in self.names():
            with self.errors():
                self.client.delete_collection(name)

    def info(self) -> list[CollectionInfo]:
        out = []
        for name in self.names():
            col = self._get(name)
            out.append(
                CollectionInfo(
                    name,
                    col.count(),
                    col.embedder,
                    col.dim,
                    col.metadata.get("last_ingest"),
                    col.chunk_tokens,
                )
            )
        return out
