"""What `rag serve` does, without HTTP: answers, chat turns, searches and ingests over resident
models. One answer is generated at a time (the generator is not re-entrant): the others wait
their turn, and a request that is cancelled while waiting never starts."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import Cancelled, InputError, RagError
from core.store import check_collection_name
from rag import wiring
from rag.answer import Assistant
from rag.config import Settings
from rag.generate import OnToken
from rag.memory import Memory, Session, check_session_name
from rag.retrieve import Filters, filters_from
from rag.serve import archive
from rag.types import Answer, Hit


@dataclass(frozen=True)
class Question:
    """One question as a client sends it."""

    text: str
    collection: str | None = None
    source: str | None = None
    speaker: str | None = None
    since: str | None = None
    until: str | None = None
    lang: str | None = None
    rerank: bool = True
    session: str | None = None  # a chat turn of this saved session; None: a one-off question

    def filters(self) -> Filters:
        return filters_from(self.source, self.speaker, self.since, self.until, self.lang)


@dataclass
class IngestJob:
    id: str
    path: str
    collection: str
    state: str = "running"  # running | done | failed
    files_total: int = 0
    files_done: int = 0
    current: str = ""
    chunks_embedded: int = 0
    report: dict[str, Any] | None = None
    error: str = ""
    started: float = field(default_factory=time.time)


class Service:
    def __init__(self, s: Settings, resident: wiring.Resident | None = None) -> None:
        self.s = s
        self.resident = resident or wiring.Resident(s)
        self._assistants: dict[tuple[str, bool], tuple[str, Assistant]] = {}
        self._answering = threading.Lock()  # one generation at a time
        self._state = threading.Lock()
        self._building = threading.Lock()  # models load once even when the first requests race
        self.waiting = 0
        self.jobs: dict[str, IngestJob] = {}
        self.started = time.time()

    # ---- answering -------------------------------------------------------------------------
    def assistant(self, collection: str | None, rerank: bool) -> Assistant:
        """The Assistant of a collection, rebuilt (cheaply: the models stay) when an ingest moved
        the collection's revision since it was built, or another process (`rag doctor --repair`)
        swapped a rebuilt copy in under its name; then over a reopened store, which reads the
        vector index another process (`rag ingest`) wrote."""
        name = collection or self.s.collection
        with self._building:
            opened = self.resident.store.open(name)
            version = f"{opened.metadata.get('revision', '')}/{opened.uid}"
            cached = self._assistants.get((name, rerank))
            if cached is not None and cached[0] == version:
                return cached[1]
            if cached is not None:  # written since: this client's vector index may be the old one
                self.resident.reopen_store()
            built = wiring.assistant(self.s, name, rerank=rerank, resident=self.resident)
            self._assistants[(name, rerank)] = (version, built)
            return built

    def ask(
        self, query: Question, on_token: OnToken | None = None, stop: threading.Event | None = None
    ) -> Answer:
        if not query.text.strip():
            raise InputError("the question is empty")
        filters = query.filters()
        assistant = self.assistant(query.collection, query.rerank)
        memory = self.memory(query.session) if query.session else None
        with self._turn(stop):
            answer = assistant.ask(query.text, filters, memory, on_token, stop)
        if memory is not None:
            memory.session.save(self.s.sessions_dir)
        return answer

    def search(self, query: Question, k: int) -> list[Hit]:
        assistant = self.assistant(query.collection, query.rerank)
        return assistant.search(query.text, query.filters())[:k]

    @contextmanager
    def _turn(self, stop: threading.Event | None) -> Iterator[None]:
        with self._state:
            self.waiting += 1
        try:
            while not self._answering.acquire(timeout=0.1):
                if stop is not None and stop.is_set():
                    raise Cancelled("the client left before its turn")
        finally:
            with self._state:
                self.waiting -= 1
        try:
            yield
        finally:
            self._answering.release()

    # ---- sessions --------------------------------------------------------------------------
    def memory(self, name: str) -> Memory:
        session = Session.load(self.s.sessions_dir, check_session_name(name))
        return Memory(session, self.resident.generator, window=self.s.memory_turns)

    def sessions(self) -> list[dict[str, Any]]:
        folder = self.s.sessions_dir
        out = []
        for path in sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True):
            try:
                session = Session.load(folder, path.stem)
            except (InputError, ValueError):
                continue  # not a session file this version can read
            first = session.turns[0].question if session.turns else ""
            out.append(
                {
                    "name": session.name,
                    "turns": len(session.turns),
                    "first": first,
                    "mtime": path.stat().st_mtime,
                }
            )
        return out

    def reset(self, name: str) -> None:
        memory = self.memory(name)
        memory.reset()
        memory.session.save(self.s.sessions_dir)

    # ---- ingest ----------------------------------------------------------------------------
    def start_ingest(self, path: str, collection: str | None) -> IngestJob:
        """Ingest in a background thread; the job reports progress and, at the end, the report
        `rag ingest --json` prints. The collection lock refuses a second writer as on the CLI."""
        folder = Path(path).expanduser()
        if not folder.exists():
            raise InputError(f"{path}: no such file or folder")
        job = IngestJob(uuid.uuid4().hex[:12], str(folder.resolve()), collection or self.s.collection)
        self.jobs[job.id] = job
        threading.Thread(target=self._ingest, args=(job,), name=f"rag-ingest-{job.id}", daemon=True).start()
        return job

    def _ingest(self, job: IngestJob) -> None:
        from ingest.pipeline import IngestOptions, Ingestor

        s = self.s.model_copy(update={"collection": job.collection})
        try:
            embedder = self.resident.ingest_embedder()
            options = IngestOptions(
                collection=job.collection,
                chunk=wiring.chunk_config(s, embedder),
                max_file_bytes=s.max_file_mb * 1024 * 1024,
                transcripts=wiring.transcripts(s),
                keep_chunking=wiring.keeps_chunking(s),
            )
            with wiring.ingest_session(s, self.resident.store) as (store, manifest):
                lexical = wiring.lexical_dir(s, job.collection)
                report = Ingestor(store, manifest, embedder, lexical, options, JobProgress(job)).run(
                    Path(job.path)
                )
            job.report, job.state = report.to_dict(), "done"
        except RagError as exc:
            job.error, job.state = str(exc), "failed"
        except Exception as exc:  # reported to the client, not lost in a thread
            job.error, job.state = f"internal error: {type(exc).__name__}: {exc}", "failed"

    # ---- archive ---------------------------------------------------------------------------
    def documents(self, collection: str | None) -> list[dict[str, Any]]:
        return archive.documents(self.resident.store.open(collection or self.s.collection))

    def media(self, collection: str | None, url: str) -> Path:
        return archive.media_file(self.resident.store.open(collection or self.s.collection), url)

    def upload(self, collection: str | None, name: str, data: bytes) -> dict[str, str]:
        """A file sent from the page, kept under $RAG_HOME/uploads/<collection>/; the page then
        ingests that folder (one ingest for many files)."""
        check_collection_name(collection or self.s.collection)
        if len(data) > self.s.max_file_mb * 1024 * 1024:
            raise InputError(f"{name}: over the {self.s.max_file_mb} MB limit")
        folder = self.s.home / "uploads" / (collection or self.s.collection)
        target = archive.upload_target(folder, name)
        target.write_bytes(data)
        return {"folder": str(folder), "file": target.name}

    def status(self) -> dict[str, Any]:
        from ingest.status import collections

        store = self.resident.store
        manifest = wiring.open_manifest(self.s, store)
        return {
            "version": _version(),
            "uptime_s": round(time.time() - self.started, 1),
            "collection": self.s.collection,
            "collections": [c.as_json() for c in collections(store, manifest)],
            "waiting": self.waiting,
            "busy": self._answering.locked(),
            "ingests": [j.__dict__ for j in self.jobs.values() if j.state == "running"],
        }


def _version() -> str:
    from rag import __version__

    return __version__


class JobProgress:
    """The ingest Progress protocol, kept on the job for `GET /api/ingest/{id}`."""

    def __init__(self, job: IngestJob) -> None:
        self.job = job

    def start(self, files: int, total_bytes: int) -> None:
        self.job.files_total = files

    def reading(self, path: str, detail: str = "") -> None:
        self.job.current = f"{Path(path).name}  {detail}".strip()

    def file_done(self, path: str, status: str, size: int = 0, chunks: int = 0) -> None:
        self.job.files_done += 1

    def embedded(self, chunks: int) -> None:
        self.job.chunks_embedded += chunks
