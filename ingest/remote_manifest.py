"""The manifest and the writer lease for a Chroma *server*, kept in the server itself.

With an embedded store the manifest is a SQLite file beside the Chroma folder. With a server,
several machines may ingest into one collection, so the record of what was ingested must be where
the chunks are: a companion collection `<name>.manifest` holds one record per file (a 1-d dummy
vector; only metadata matters), the last run, and a lease that stops two writers at once.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from dataclasses import asdict
from types import TracebackType
from typing import Any

from core.errors import StoreError
from core.store import MANIFEST_SUFFIX, ChromaStore
from ingest.manifest import FileEntry, now_iso

_LOCK = "__lock__"
_RUN = "__run__"
_DUMMY = [[0.0]]


def _id(path: str) -> str:
    return hashlib.sha256(path.encode()).hexdigest()[:32]


class ChromaManifest:
    def __init__(self, store: ChromaStore) -> None:
        self.store = store
        self._cols: dict[str, Any] = {}

    def _col(self, collection: str) -> Any:
        if collection not in self._cols:
            with self.store.errors():
                self._cols[collection] = self.store.client.get_or_create_collection(
                    collection + MANIFEST_SUFFIX, embedding_function=None, metadata={"rag_manifest": 1}
                )
        return self._cols[collection]

    def entries(self, collection: str) -> dict[str, FileEntry]:
        with self.store.errors():
            res = self._col(collection).get(include=["metadatas"])
        out = {}
        for rid, meta in zip(res["ids"], res["metadatas"], strict=True):
            if rid in (_LOCK, _RUN) or not meta:
                continue
            entry = FileEntry(**{k: meta[k] for k in FileEntry.__dataclass_fields__})
            out[entry.path] = entry
        return out

    def put(self, collection: str, entry: FileEntry) -> None:
        with self.store.errors():
            self._col(collection).upsert(ids=[_id(entry.path)], embeddings=_DUMMY, metadatas=[asdict(entry)])

    def remove(self, collection: str, path: str) -> None:
        with self.store.errors():
            self._col(collection).delete(ids=[_id(path)])

    def drop_collection(self, collection: str) -> None:
        with self.store.errors():
            self._col(collection).delete(where={"path": {"$ne": ""}})

    def record_run(self, collection: str, summary: str) -> None:
        with self.store.errors():
            self._col(collection).upsert(
                ids=[_RUN], embeddings=_DUMMY, metadatas=[{"finished_at": now_iso(), "summary": summary}]
            )

    def last_run(self, collection: str) -> str | None:
        with self.store.errors():
            res = self._col(collection).get(ids=[_RUN], include=["metadatas"])
        return str(res["metadatas"][0]["finished_at"]) if res["ids"] else None

    def close(self) -> None:
        self._cols.clear()

    def writer_lease(self, collection: str) -> ServerLease:
        return ServerLease(self, collection)

    # ---- the writer lease -------------------------------------------------------------------
    def holder(self, collection: str) -> dict[str, Any] | None:
        with self.store.errors():
            res = self._col(collection).get(ids=[_LOCK], include=["metadatas"])
        return dict(res["metadatas"][0]) if res["ids"] else None

    def set_holder(self, collection: str, owner: str, expires: float) -> None:
        with self.store.errors():
            self._col(collection).upsert(
                ids=[_LOCK], embeddings=_DUMMY, metadatas=[{"owner": owner, "expires": expires}]
            )

    def clear_holder(self, collection: str) -> None:
        with self.store.errors():
            self._col(collection).delete(ids=[_LOCK])


class ServerLease:
    """Refuse a second concurrent ingest into a server collection. Chroma has no compare-and-set,
    so the lease is written, then read back after a pause; content-derived chunk ids make the
    remaining race window harmless (no duplicates)."""

    def __init__(
        self, manifest: ChromaManifest, collection: str, ttl_s: float = 900.0, settle_s: float = 0.3
    ) -> None:
        self.manifest = manifest
        self.collection = collection
        self.ttl_s = ttl_s
        self.settle_s = settle_s
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{time.time_ns()}"
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def _renew(self) -> None:
        """Push the expiry forward every third of the lease while the ingest runs: an ingest longer
        than one lease must not let a second writer in."""
        while not self._stop.wait(self.ttl_s / 3):
            try:
                held = self.manifest.holder(self.collection)
                if not held or held.get("owner") != self.owner:
                    return  # taken over after an outage: nothing of ours to renew
                self.manifest.set_holder(self.collection, self.owner, time.time() + self.ttl_s)
            except StoreError:
                continue  # the server is unreachable for now; try again at the next tick

    def __enter__(self) -> ServerLease:
        held = self.manifest.holder(self.collection)
        if held and held.get("owner") != self.owner and float(held.get("expires", 0)) > time.time():
            who = str(held.get("owner", "?")).rsplit(":", 1)[0]
            raise StoreError(
                f"another ingest ({who}) is writing collection {self.collection!r} on this server; "
                "wait for it to finish"
            )
        self.manifest.set_holder(self.collection, self.owner, time.time() + self.ttl_s)
        time.sleep(self.settle_s)
        held = self.manifest.holder(self.collection)
        if not held or held.get("owner") != self.owner:
            raise StoreError(
                f"another ingest took collection {self.collection!r} at the same moment; try again"
            )
        self._renewer = threading.Thread(target=self._renew, name="rag-lease", daemon=True)
        self._renewer.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        try:
            held = self.manifest.holder(self.collection)
            if held and held.get("owner") == self.owner:
                self.manifest.clear_holder(self.collection)
        except StoreError:
            pass  # the server is gone; the lease expires on its own
