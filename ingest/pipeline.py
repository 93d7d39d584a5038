"""plan → load → chunk → embed → write, with incremental sync against the manifest.

Per file, the store is changed in a crash-safe order (see `ingest.manifest`): drop the manifest row,
upsert new chunks, refresh metadata of kept chunks, delete stale ones, write the row back.
Chunks whose content-derived id is already stored keep their vectors and are not re-embedded.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from core.embedder import Embedder, embed_documents
from core.errors import Cancelled, InputError, RagError, SkipFile
from core.integrity import check_vectors
from core.lexical import synced
from core.store import ChromaStore, VectorCollection
from core.text import guess_language
from core.types import Chunk, MetaValue
from ingest.chunking import ChunkConfig, chunk_document
from ingest.discover import discover
from ingest.loaders import LoadOptions, loader_for
from ingest.manifest import FileEntry, ManifestStore, now_iso, sha256_file
from ingest.media import MediaTranscripts, is_media, language_of, media_beside, transcript_beside
from ingest.metadata import external_metadata

STATUSES = ("added", "updated", "removed", "unchanged", "failed", "skipped")


@dataclass(frozen=True)
class IngestOptions:
    """One ingest run. Collection and chunking come from Settings (the CLI) or the caller; the
    rest are per-run flags."""

    collection: str
    chunk: ChunkConfig
    prune: bool = True
    dry_run: bool = False
    reembed: bool = False
    password: str | None = None
    max_file_bytes: int | None = None  # None: no limit (the CLI passes the max_file_mb setting)
    embed_group: int = 1024  # chunks embedded together; bigger length-sorted groups pad less
    transcripts: MediaTranscripts | None = None  # audio and video are skipped as failed without one
    # A collection keeps the chunking its files were indexed with unless the run asks for a size:
    # a new default must not silently re-embed every file at the next sync.
    keep_chunking: bool = False


@dataclass
class FileResult:
    path: str
    status: str
    chunks: int = 0
    reason: str = ""
    warnings: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    collection: str
    root: str
    dry_run: bool
    results: list[FileResult] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_reused: int = 0
    tokens_embedded: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    collection_chunks: int = 0

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def changed(self) -> bool:
        return any(r.status in ("added", "updated", "removed") for r in self.results)

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["summary"] = {s: self.count(s) for s in STATUSES}
        return data


class Progress(Protocol):
    """What an ingest reports while it runs. `reading` comes from the loader thread."""

    def start(self, files: int, total_bytes: int) -> None: ...
    def reading(self, path: str, detail: str = "") -> None: ...
    def file_done(self, path: str, status: str, size: int = 0, chunks: int = 0) -> None:
        """A file's outcome is known (read and chunked, removed, failed...); `chunks` of it still
        have to be embedded, so a display can estimate the total from bytes read so far."""

    def embedded(self, chunks: int) -> None: ...


class _NoProgress:
    def start(self, files: int, total_bytes: int) -> None: ...
    def reading(self, path: str, detail: str = "") -> None: ...
    def file_done(self, path: str, status: str, size: int = 0, chunks: int = 0) -> None: ...
    def embedded(self, chunks: int) -> None: ...


@dataclass
class _Pending:
    result: FileResult
    chunks: list[Chunk]
    entry: FileEntry


@dataclass
class _Prepared:
    result: FileResult
    pending: _Pending | None = None  # chunks to write
    touched: FileEntry | None = None  # same content, new mtime
    size: int = 0


def source_key(path: Path) -> str:
    return path.resolve().as_posix()


def _title(path: Path, meta: dict[str, MetaValue]) -> str:
    title = str(meta.get("title") or "").strip()
    return title or path.stem.replace("_", " ").replace("-", " ").strip() or path.name


class Ingestor:
    """Keeps one collection in sync with a folder: new and changed files are loaded, chunked,
    embedded and written; vanished ones removed; the manifest records each file only after its
    chunks are in the store, so a killed run is finished, without duplicates, by the next one."""

    def __init__(
        self,
        store: ChromaStore,
        manifest: ManifestStore,
        embedder: Embedder,
        lexical_dir: Path,
        options: IngestOptions,
        progress: Progress | None = None,
    ) -> None:
        self.store = store
        self.manifest = manifest
        self.embedder = embedder
        self.lexical_dir = lexical_dir
        self.options = options
        self.progress = progress or _NoProgress()
        self.config_key = f"{options.chunk.key}|{embedder.name}"
        self._indexed: dict[str, str] = {}  # sha256 → the file indexed with that content
        self._reasons: dict[str, str] = {}  # why a file that is still there is removed
        self._stop = threading.Event()  # set when the run ends early: the loader thread stops too

    def _keep_chunking(self, entries: dict[str, FileEntry]) -> None:
        """Chunk as most of the collection's files were chunked (by this embedder)."""
        configs = Counter(e.config for e in entries.values())
        if not configs:
            return
        chunking, _, embedder = configs.most_common(1)[0][0].partition("|")
        kept = ChunkConfig.from_key(chunking)
        if kept is not None and embedder == self.embedder.name and kept != self.options.chunk:
            self.options = replace(self.options, chunk=kept)
            self.config_key = f"{kept.key}|{self.embedder.name}"

    # ---- planning -------------------------------------------------------------------------
    def run(self, root: Path) -> IngestReport:
        t0 = time.perf_counter()
        opts = self.options
        if not root.exists():
            raise InputError(f"{root}: no such file or folder")
        report = IngestReport(opts.collection, str(root), opts.dry_run)
        found = discover(root)
        # Absolute like every other result, but not resolved: a symlink loop is named by the link.
        for path, reason in found.problems:
            report.results.append(FileResult(path.absolute().as_posix(), "failed", reason=reason))
        for path in found.unsupported:
            report.results.append(
                FileResult(
                    path.absolute().as_posix(),
                    "skipped",
                    reason=f"unsupported type '{path.suffix or path.name}'",
                )
            )

        if opts.reembed and not opts.dry_run:
            self.manifest.drop_collection(opts.collection)
        entries = self.manifest.entries(opts.collection)
        if opts.keep_chunking and not opts.reembed:
            self._keep_chunking(entries)
            opts = self.options
        todo: list[tuple[Path, FileEntry | None]] = []
        todo_bytes = 0
        seen: set[str] = set()
        replaced: list[FileEntry] = []
        for path in found.files:
            key = source_key(path)
            entry = entries.get(key)
            beside = transcript_beside(path) if is_media(path) else None
            if beside is not None:  # a corrected transcript stands for the recording
                reason = f"its transcript {beside.name} is indexed instead"
                if entry is not None:
                    replaced.append(entry)
                    self._reasons[key] = reason
                else:
                    report.results.append(FileResult(key, "skipped", reason=reason))
                continue
            seen.add(key)
            try:
                st = path.stat()
            except OSError as exc:
                report.results.append(FileResult(key, "failed", reason=exc.strerror or str(exc)))
                continue
            if (
                entry is not None
                and not opts.reembed
                and entry.size == st.st_size
                and entry.mtime_ns == st.st_mtime_ns
                and entry.config == self.config_key
            ):
                report.results.append(FileResult(key, "unchanged", chunks=entry.chunks))
            else:
                todo.append((path, entry))
                todo_bytes += st.st_size
        # Content indexed under another name that is still there: a copy of a file is indexed once.
        self._indexed = {e.sha256: k for k, e in entries.items() if k in seen}
        gone: list[FileEntry] = []
        if opts.prune:
            prefix = source_key(root) + ("/" if root.is_dir() else "")
            gone = [e for k, e in entries.items() if k not in seen and (k == prefix or k.startswith(prefix))]
        gone = [*replaced, *(e for e in gone if e not in replaced)]

        self.progress.start(len(todo) + len(gone), todo_bytes)
        if opts.dry_run:
            self._plan_only(todo, gone, report)
            report.seconds = time.perf_counter() - t0
            return report

        collection = self.store.open_for_write(
            opts.collection, self.embedder.name, self.embedder.dim, replace=opts.reembed
        )
        self._changing = False
        try:
            for entry in gone:
                self._mark_changing(collection)
                self.manifest.remove(opts.collection, entry.path)
                collection.delete(sorted(collection.ids_for_source(entry.path)))
                reason = self._reasons.get(entry.path, "")
                report.results.append(FileResult(entry.path, "removed", chunks=entry.chunks, reason=reason))
                self.progress.file_done(entry.path, "removed")
            pending: list[_Pending] = []
            for prepared in self._prepared_in_background(todo):
                item = self._apply(prepared, report)
                if item is not None:
                    pending.append(item)
                if sum(len(p.chunks) for p in pending) >= opts.embed_group:
                    self._write(pending, collection, report)
                    pending = []
            self._write(pending, collection, report)
        finally:
            report.seconds = time.perf_counter() - t0
        synced(collection, self.lexical_dir)  # rebuilt only if this (or an interrupted) run changed it
        check_vectors(collection, self.store.location)  # a damaged index answers wrongly, not loudly
        report.collection_chunks = collection.count()
        # The chunk size is kept: abstention's thresholds depend on it (rag.abstain).
        collection.set_metadata(last_ingest=now_iso(), chunk_tokens=opts.chunk.size)
        self.manifest.record_run(
            opts.collection, f"{report.count('added')} added, {report.count('updated')} updated"
        )
        report.seconds = time.perf_counter() - t0
        return report

    def _plan_only(
        self, todo: list[tuple[Path, FileEntry | None]], gone: list[FileEntry], report: IngestReport
    ) -> None:
        """What a run would do, file by file, found as the run finds it (each file is read and
        parsed, nothing is written): a file that would fail or be skipped is reported so."""
        for path, entry in todo:
            prepared = self._prepare(path, None if self.options.reembed else entry)
            result, pending = prepared.result, prepared.pending
            self.progress.file_done(result.path, result.status, prepared.size)
            if pending is not None:
                original = self._duplicate_of(pending)
                if original is not None:
                    result.status, result.reason = "skipped", f"same content as {original}"
                else:
                    result.chunks = len(pending.chunks)
                    changed = entry is not None and entry.sha256 != pending.entry.sha256
                    result.reason = {"added": "new file"}.get(
                        result.status, "content changed" if changed else "settings changed"
                    )
            report.results.append(result)
        for entry in gone:
            reason = self._reasons.get(entry.path, "file gone")
            report.results.append(FileResult(entry.path, "removed", chunks=entry.chunks, reason=reason))

    def _duplicate_of(self, pending: _Pending) -> str | None:
        """The file already indexed with this new file's content, if any (the first one wins)."""
        original = self._indexed.get(pending.entry.sha256)
        if pending.result.status != "added" or original in (None, pending.entry.path):
            self._indexed.setdefault(pending.entry.sha256, pending.entry.path)
            return None
        return original

    # ---- per file ---------------------------------------------------------------------------
    def _prepare(self, path: Path, entry: FileEntry | None) -> _Prepared:
        """Read, parse and chunk one file. No side effects, so it runs in the loader thread."""
        key = source_key(path)
        result = FileResult(key, "added" if entry is None else "updated")
        self.progress.reading(key)
        size = 0
        try:
            st = path.stat()
            size = st.st_size
            if self.options.max_file_bytes is not None and st.st_size > self.options.max_file_bytes:
                limit = self.options.max_file_bytes / 2**20
                raise SkipFile(
                    f"file is {st.st_size / 2**20:.0f} MB, over the {limit:.0f} MB limit (--max-file-mb)"
                )
            if st.st_size == 0:
                raise SkipFile("empty file")
            digest = sha256_file(path)
            if entry is not None and digest == entry.sha256 and entry.config == self.config_key:
                # Touched but identical: remember the new mtime so it is not even hashed next time.
                touched = FileEntry(
                    key, digest, st.st_size, st.st_mtime_ns, entry.config, entry.chunks, entry.ingested_at
                )
                result.status, result.chunks = "unchanged", entry.chunks
                return _Prepared(result, touched=touched, size=size)
            chunks = self._chunks(path, key, digest, result)
        except Cancelled:
            raise
        except SkipFile as exc:
            result.status, result.reason = "skipped", str(exc)
            return _Prepared(result, size=size)
        except RagError as exc:  # InputError, or a model that cannot load (named in its message)
            reason = str(exc)
        except PermissionError:
            reason = "permission denied"
        except OSError as exc:
            reason = exc.strerror or str(exc)
        except RecursionError:
            reason = "file too deeply nested to parse"
        except Exception as exc:  # a loader tripping on malformed input must not abort the run
            reason = f"cannot parse: {type(exc).__name__}: {str(exc)[:200]}"
        else:
            entry_out = FileEntry(
                key, digest, st.st_size, st.st_mtime_ns, self.config_key, len(chunks), now_iso()
            )
            return _Prepared(result, pending=_Pending(result, chunks, entry_out), size=size)
        result.status, result.reason = "failed", reason
        return _Prepared(result, size=size)

    def _apply(self, prepared: _Prepared, report: IngestReport) -> _Pending | None:
        """Record what the loader thread found; return the file's chunks if they need writing."""
        pending = prepared.pending
        if pending is not None:
            original = self._duplicate_of(pending)
            if original is None:
                # Reported as read now, not when its group is written: the file count moves steadily.
                self.progress.file_done(
                    pending.result.path, pending.result.status, prepared.size, len(pending.chunks)
                )
                return pending
            prepared.result.status, prepared.result.reason = "skipped", f"same content as {original}"
        if prepared.touched is not None:
            self.manifest.put(self.options.collection, prepared.touched)
        # A failed file's previous chunks and manifest row stay as they were.
        report.results.append(prepared.result)
        self.progress.file_done(prepared.result.path, prepared.result.status, prepared.size)
        return None

    def _prepared_in_background(self, todo: list[tuple[Path, FileEntry | None]]) -> Iterator[_Prepared]:
        """Parse upcoming files in one worker thread while the caller embeds: PDF parsing and
        chunking are mostly single-threaded Python, and the encoder releases the GIL."""
        ahead = 8
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-load")
        try:
            queue: deque[Future[_Prepared]] = deque()
            items = iter(todo)
            for path, entry in itertools.islice(items, ahead):
                queue.append(pool.submit(self._prepare, path, entry))
            while queue:
                prepared = queue.popleft().result()
                nxt = next(items, None)
                if nxt is not None:
                    queue.append(pool.submit(self._prepare, *nxt))
                yield prepared
        finally:
            # Ctrl-C (or any error) stops here: files queued but not started are dropped, not
            # parsed first; a transcription in progress stops at its next segment, unused.
            self._stop.set()
            pool.shutdown(wait=False, cancel_futures=True)

    def _chunks(self, path: Path, key: str, digest: str, result: FileResult) -> list[Chunk]:
        loader = loader_for(path)
        assert loader is not None

        def on_progress(detail: str) -> None:
            if self._stop.is_set():
                raise Cancelled("ingest interrupted")
            self.progress.reading(key, detail)

        folder_meta, sidecar_meta, _ = external_metadata(path)
        options = LoadOptions(
            password=self.options.password,
            on_progress=on_progress,
            transcripts=self.options.transcripts,
            sha256=digest,
            plan_only=self.options.dry_run,
            language=language_of(folder_meta, sidecar_meta),
        )
        doc = loader(path, options)
        doc.meta = {**folder_meta, **doc.meta, **sidecar_meta}
        if (
            "url" not in doc.meta
        ):  # where a citation plays the talk: a `video:` link, or the recording beside it
            media = media_beside(path)
            if doc.meta.get("video"):
                doc.meta["url"] = str(doc.meta["video"])
            elif media is not None:
                doc.meta["url"] = media.resolve().as_uri()
        result.warnings.extend(doc.warnings)
        if not any(u.text.strip() for u in doc.units):
            raise InputError("no text found" + (f" ({doc.warnings[-1]})" if doc.warnings else ""))
        if "language" not in doc.meta:
            lang = guess_language(" ".join(u.text for u in doc.units[:200]))
            if lang:
                doc.meta["language"] = lang
        return chunk_document(
            doc, key, _title(path, doc.meta), self.embedder.count_tokens, self.options.chunk
        )

    def _mark_changing(self, collection: VectorCollection) -> None:
        """A new revision before the first write of a run: readers (and the next run) then see the
        BM25 index as stale even if this run is killed half-way, and rebuild it from the store."""
        if not self._changing:
            collection.set_metadata(revision=uuid.uuid4().hex)
            self._changing = True

    def _write(self, pending: list[_Pending], collection: VectorCollection, report: IngestReport) -> None:
        if not pending:
            return
        existing = {p.entry.path: collection.ids_for_source(p.entry.path) for p in pending}
        fresh = [c for p in pending for c in p.chunks if c.id not in existing[p.entry.path]]
        vectors = self._embed(fresh, report)
        row = {c.id: i for i, c in enumerate(fresh)}
        self._mark_changing(collection)
        for p in pending:
            key = p.entry.path
            self.manifest.remove(self.options.collection, key)
            new = [c for c in p.chunks if c.id in row]
            kept = [c for c in p.chunks if c.id not in row]
            if new:
                collection.upsert(new, vectors[[row[c.id] for c in new]])
            if kept:
                collection.update_metadata(kept)
                self.progress.embedded(len(kept))  # reused vectors: done without embedding
            stale = existing[key] - {c.id for c in p.chunks}
            if stale:
                collection.delete(sorted(stale))
            self.manifest.put(self.options.collection, p.entry)
            p.result.chunks = len(p.chunks)
            report.chunks_reused += len(kept)
            report.results.append(p.result)

    def _embed(self, chunks: list[Chunk], report: IngestReport) -> np.ndarray:
        if not chunks:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        t0 = time.perf_counter()
        out = embed_documents(self.embedder, [c.text for c in chunks], self.progress.embedded)
        report.embed_seconds += time.perf_counter() - t0
        report.chunks_embedded += len(chunks)
        report.tokens_embedded += sum(c.tokens for c in chunks)
        return out
