"""Builders shared by tests: a real Chroma in a temp dir with the hash embedder."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from core.embedder import make_embedder
from core.store import ChromaStore
from core.text import Fusion
from core.types import Chunk
from ingest.chunking import ChunkConfig
from ingest.manifest import Manifest
from ingest.pipeline import IngestOptions, Ingestor, IngestReport, Progress
from rag import wiring
from rag.answer import AskOptions
from rag.config import Settings
from rag.types import Hit, Passage


def passages_of(*texts: str, suffix: str = "md", title: str = "Notes", kind: str = "text") -> list[Passage]:
    """One passage per text, each from a one-chunk document of its own ("/d/0.md", "/d/1.md", …)."""
    chunks = [
        Chunk(id=f"/d/{i}.{suffix}#0", text=t, source=f"/d/{i}.{suffix}", chunk_index=0, title=title, kind=kind, content_hash=str(i))
        for i, t in enumerate(texts)
    ]  # fmt: skip
    return [Passage(i + 1, Hit(c), [c], c.text) for i, c in enumerate(chunks)]


def fusion() -> Fusion:
    """Rank fusion with equal weights: these tests check what each leg (and a follow-up's pinned
    chunks) contributes, which a hash embedder's dense scores would otherwise drown in a score
    blend; the fusion users get is tested on its own (tests/test_retrieve.py)."""
    return Fusion("rank", dense_weight=1.0)


def ask_options(**changes: object) -> AskOptions:
    """The options users get (built from Settings' defaults, as the CLI does), with some changed."""
    options = wiring.ask_options(Settings(), "hash:256", None)
    return replace(options, **changes)  # type: ignore[arg-type]


class Env:
    """A real Chroma store, manifest and lexical index in a temp dir, filled by the real Ingestor."""

    def __init__(self, base: Path, dim: int = 64) -> None:
        self.base = base
        self.store = ChromaStore(base / "chroma")
        self.manifest = Manifest(base / "manifest.sqlite")
        self.embedder = make_embedder("hash", str(dim))
        self.options = IngestOptions(collection="test", chunk=ChunkConfig(size=64, overlap=8))

    def lexical_dir(self, collection: str = "test") -> Path:
        return self.base / "lexical" / collection

    def ingest(self, root: Path, progress: Progress | None = None, **changes: object) -> IngestReport:
        options = replace(self.options, **changes)  # type: ignore[arg-type]
        return Ingestor(
            self.store, self.manifest, self.embedder, self.lexical_dir(options.collection), options, progress
        ).run(root)

    def snapshot(self, collection: str = "test") -> dict[str, tuple[str, str]]:
        col = self.store.open(collection)
        return {i: (t, str(m.get("source"))) for i, t, m in col.iter_records()}


class RecordingProgress:
    """Every progress event of a run, in order, as tuples."""

    def __init__(self) -> None:
        self.events: list[tuple[object, ...]] = []

    def start(self, files: int, total_bytes: int) -> None:
        self.events.append(("start", files, total_bytes))

    def reading(self, path: str, detail: str = "") -> None:
        self.events.append(("reading", path, detail))

    def file_done(self, path: str, status: str, size: int = 0, chunks: int = 0) -> None:
        self.events.append(("done", path, status, size, chunks))

    def embedded(self, chunks: int) -> None:
        self.events.append(("embedded", chunks))

    def of(self, kind: str) -> list[tuple[object, ...]]:
        return [e for e in self.events if e[0] == kind]


def _recorded(manifest: Path) -> int:
    """Files the manifest records, read by another process while an ingest writes it."""
    if not manifest.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{manifest}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT count(*) FROM files").fetchone()[0])
    except sqlite3.Error:
        return 0  # not created yet


def wait_for_first_file(proc: subprocess.Popen[bytes], manifest: Path, timeout: float = 60) -> None:
    """Until the ingest running in `proc` has recorded its first file (or ended, or timed out)."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline and _recorded(manifest) == 0:
        time.sleep(0.05)


def interruptible(script: str) -> subprocess.Popen[bytes]:
    """`python -c script` that Ctrl-C reaches even when the tests run as a background job (which
    starts every child with SIGINT ignored, so Python would never raise KeyboardInterrupt)."""
    import signal

    def default_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    return subprocess.Popen([sys.executable, "-c", script], preexec_fn=default_sigint)
