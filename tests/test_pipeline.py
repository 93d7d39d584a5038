from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from core.embedder import make_embedder
from core.errors import EmbedderMismatch, InputError, StoreError
from core.lexical import LexicalIndex
from ingest.chunking import ChunkConfig
from ingest.pipeline import Ingestor
from tests.helpers import Env, RecordingProgress, fusion, interruptible, wait_for_first_file


@pytest.fixture()
def env(tmp_path: Path) -> Env:
    return Env(tmp_path / "state")


def statuses(report: object) -> dict[str, int]:
    from ingest.pipeline import STATUSES

    return {s: report.count(s) for s in STATUSES if report.count(s)}  # type: ignore[attr-defined]


def test_cold_then_unchanged(env: Env, corpus_copy: Path) -> None:
    first = env.ingest(corpus_copy)
    assert statuses(first) == {"added": 9}
    n = first.collection_chunks
    assert n == len(env.snapshot()) > 9
    before = env.snapshot()
    again = env.ingest(corpus_copy)
    assert statuses(again) == {"unchanged": 9}
    assert again.chunks_embedded == 0
    assert env.snapshot() == before and again.collection_chunks == n


def test_metadata_reaches_the_store(env: Env, corpus_copy: Path) -> None:
    env.ingest(corpus_copy)
    col = env.store.open("test")
    srt = [c for c in col.get_where({"source_name": "deep-learning-01-gradients.srt"})]
    assert srt and all(c.title.startswith("Deep Learning 01") for c in srt)
    assert srt[0].speakers == ("Dr. Alice Moreno",) and srt[0].date == "2025-02-10"
    assert str(srt[0].extra["course"]).startswith("Seminario")  # folder-level metadata.yaml
    assert min(c.start_s or 0 for c in srt) == 2.0
    pdf = col.get_where({"source_name": "optimizers.pdf"})
    assert {c.page_start for c in pdf} <= {1, 2, 3} and pdf[0].title.startswith("Lecture 07")
    vtt = col.get_where({"source_name": "aprendizaje-02-atencion.vtt"})
    assert {s for c in vtt for s in c.speakers} == {"Carmen Ruiz", "Luis Ortega"}
    assert "Carmen Ruiz" in min(vtt, key=lambda c: c.chunk_index).speakers  # she opens the talk
    assert vtt and all(c.language == "es" for c in vtt)


def test_modified_file_replaces_only_its_chunks(env: Env, corpus_copy: Path) -> None:
    env.ingest(corpus_copy)
    before = env.snapshot()
    notes = corpus_copy / "notes" / "glosario.txt"
    notes.write_text(
        notes.read_text(encoding="utf-8") + "\nTokenizador: divide el texto en unidades.\n", encoding="utf-8"
    )
    report = env.ingest(corpus_copy)
    assert statuses(report) == {"updated": 1, "unchanged": 8}
    after = env.snapshot()
    others_before = {k: v for k, v in before.items() if not v[1].endswith("glosario.txt")}
    others_after = {k: v for k, v in after.items() if not v[1].endswith("glosario.txt")}
    assert others_before == others_after
    gl = [t for t, s in after.values() if s.endswith("glosario.txt")]
    assert any("Tokenizador" in t for t in gl)
    assert len(after) == len(set(after))  # no duplicates


def test_touched_file_is_not_reembedded(env: Env, corpus_copy: Path) -> None:
    env.ingest(corpus_copy)
    f = corpus_copy / "notes" / "glosario.txt"
    os.utime(f, (time.time() + 5, time.time() + 5))
    report = env.ingest(corpus_copy)
    assert report.chunks_embedded == 0 and statuses(report) == {"unchanged": 9}


def test_deleted_file_is_pruned_unless_no_prune(env: Env, corpus_copy: Path) -> None:
    env.ingest(corpus_copy)
    (corpus_copy / "notes" / "exam-logistics.md").unlink()
    kept = env.ingest(corpus_copy, prune=False)
    assert kept.count("removed") == 0
    assert any(s.endswith("exam-logistics.md") for _, s in env.snapshot().values())
    report = env.ingest(corpus_copy)
    assert report.count("removed") == 1
    assert not any(s.endswith("exam-logistics.md") for _, s in env.snapshot().values())
    lex = LexicalIndex.load(env.lexical_dir())
    assert lex is not None and set(lex.ids) == set(env.snapshot())


def test_ingesting_a_subfolder_does_not_prune_siblings(env: Env, corpus_copy: Path) -> None:
    env.ingest(corpus_copy)
    report = env.ingest(corpus_copy / "notes")
    assert report.count("removed") == 0 and report.count("unchanged") == 2


def test_chunker_change_reembeds(env: Env, corpus_copy: Path) -> None:
    env.ingest(corpus_copy)
    report = env.ingest(corpus_copy, chunk=ChunkConfig(size=32, overlap=4))
    assert report.count("updated") == 9
    texts = env.snapshot()
    assert len(texts) > 0 and len(set(texts)) == len(texts)


def test_dry_run_changes_nothing(env: Env, corpus_copy: Path) -> None:
    plan = env.ingest(corpus_copy, dry_run=True)
    assert statuses(plan) == {"added": 9}
    assert "test" not in env.store.names()
    env.ingest(corpus_copy)
    (corpus_copy / "notes" / "glosario.txt").write_text("Nuevo glosario.", encoding="utf-8")
    before = env.snapshot()
    plan = env.ingest(corpus_copy, dry_run=True)
    assert [r.reason for r in plan.results if r.status == "updated"] == ["content changed"]
    assert env.snapshot() == before


def test_embedder_mismatch_is_refused(env: Env, corpus_copy: Path) -> None:
    env.ingest(corpus_copy)
    before = env.snapshot()
    other = make_embedder("hash", "32")
    with pytest.raises(EmbedderMismatch, match=r"hash:64.*hash:32"):
        Ingestor(env.store, env.manifest, other, env.lexical_dir(), env.options).run(corpus_copy)
    assert env.snapshot() == before
    report = Ingestor(
        env.store,
        env.manifest,
        other,
        env.lexical_dir(),
        env.options.__class__(collection="test", chunk=env.options.chunk, reembed=True),
    ).run(corpus_copy)
    assert report.count("added") == 9
    assert env.store.open("test").embedder == "hash:32"


def test_bad_files_are_reported_and_index_kept(
    env: Env, corpus_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(corpus_copy.parent)  # the user names the folder relatively
    env.ingest(corpus_copy)
    before = env.snapshot()
    (corpus_copy / "notes" / "glosario.txt").write_bytes(b"\x00\x00binary now")
    (corpus_copy / "empty.md").write_text("")
    (corpus_copy / "broken.pdf").write_bytes(b"%PDF-1.4 nope")
    (corpus_copy / "bad.json").write_text("{not json")
    (corpus_copy / "image.png").write_bytes(b"\x89PNG")
    (corpus_copy / "loop").symlink_to(corpus_copy)
    report = env.ingest(Path(corpus_copy.name))
    failed = {Path(r.path).name: r.reason for r in report.results if r.status == "failed"}
    assert "binary" in failed["glosario.txt"]
    assert "PDF" in failed["broken.pdf"]
    assert "JSON" in failed["bad.json"]
    assert any("symlink loop" in r for r in failed.values())
    assert all(Path(r.path).is_absolute() for r in report.results)  # one kind of path in the report
    loop = next(r for r in report.results if "symlink loop" in r.reason)
    assert loop.path == (corpus_copy / "loop").absolute().as_posix()  # the link, not its target
    # Left out by policy, not failures: an unsupported type and an empty file.
    skipped = {Path(r.path).name: r.reason for r in report.results if r.status == "skipped"}
    assert sorted(skipped) == ["empty.md", "image.png"] and skipped["empty.md"] == "empty file"
    plan = env.ingest(corpus_copy, dry_run=True)  # the plan says what the run said, file by file
    assert {Path(r.path).name: r.status for r in plan.results if r.status in ("failed", "skipped")} == {
        **{name: "failed" for name in failed if name != "loop"},
        **{name: "skipped" for name in skipped},
        **{Path(r.path).name: "failed" for r in report.results if "symlink loop" in r.reason},
    }
    assert env.snapshot() == before  # the binary glossary keeps its old chunks


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of permissions")
def test_permission_denied(env: Env, corpus_copy: Path) -> None:
    f = corpus_copy / "notes" / "glosario.txt"
    f.chmod(0)
    report = env.ingest(corpus_copy)
    assert any(r.status == "failed" and "permission" in r.reason for r in report.results)


def test_huge_file_is_skipped(env: Env, corpus_copy: Path) -> None:
    report = env.ingest(corpus_copy, max_file_bytes=1000)
    skipped = [r for r in report.results if r.status == "skipped"]
    assert skipped and all("limit" in r.reason for r in skipped)
    assert report.count("added") + len(skipped) == 9 and report.count("failed") == 0


def test_missing_root(env: Env, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        env.ingest(tmp_path / "nope")


KILL_SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from tests.helpers import Env, RecordingProgress
from core.embedder import make_embedder
env = Env(Path({state!r}))
env.embedder = make_embedder("hash", "64", delay={delay})
env.options = env.options.__class__(collection="test", chunk=env.options.chunk, embed_group=4)
env.ingest(Path({docs!r}))
"""


def test_killed_ingest_recovers_without_duplicates(tmp_path: Path, corpus_copy: Path) -> None:
    state = tmp_path / "state"
    root = str(Path(__file__).resolve().parents[1])
    script = KILL_SCRIPT.format(root=root, state=str(state), docs=str(corpus_copy), delay=0.15)
    proc = interruptible(script)
    recorded = state / "manifest.sqlite"
    wait_for_first_file(proc, recorded)  # then kill: some written, the rest not
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    env = Env(state)
    partial = len(env.manifest.entries("test"))
    assert 0 < partial < 9, f"killed after {partial} of 9 files; the kill must land mid-run"
    report = env.ingest(corpus_copy)
    assert report.count("added") + report.count("unchanged") == 9
    reference = Env(tmp_path / "clean")
    reference.ingest(corpus_copy)
    got, want = env.snapshot(), reference.snapshot()
    assert sorted(got) == sorted(want)  # same ids: nothing missing, nothing duplicated
    lex = LexicalIndex.load(env.lexical_dir())
    assert lex is not None and sorted(lex.ids) == sorted(want)


INTERRUPT_SCRIPT = """
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from tests.helpers import Env, RecordingProgress
from ingest.pipeline import Ingestor
slow = Ingestor._prepare
def _prepare(self, *args):
    time.sleep({load_s})  # a slow loader: the main thread waits on the loader thread
    return slow(self, *args)
Ingestor._prepare = _prepare
env = Env(Path({state!r}))
env.options = env.options.__class__(collection="test", chunk=env.options.chunk, embed_group=1)
try:
    env.ingest(Path({docs!r}))
except KeyboardInterrupt:
    sys.exit(130)
"""


def test_ctrl_c_stops_a_multi_file_ingest_promptly_and_consistently(
    tmp_path: Path, corpus_copy: Path
) -> None:
    state = tmp_path / "state"
    root = str(Path(__file__).resolve().parents[1])
    script = INTERRUPT_SCRIPT.format(root=root, state=str(state), docs=str(corpus_copy), load_s=1.0)
    proc = interruptible(script)
    wait_for_first_file(proc, state / "manifest.sqlite")
    proc.send_signal(signal.SIGINT)
    t = time.monotonic()
    rc = proc.wait(timeout=30)
    # Eight files were queued for the loader, a second each: stopping must not parse them first.
    assert rc == 130 and time.monotonic() - t < 4.0, (rc, time.monotonic() - t)
    env = Env(state)
    assert 0 < len(env.manifest.entries("test")) < 9
    env.ingest(corpus_copy)
    reference = Env(tmp_path / "clean")
    reference.ingest(corpus_copy)
    assert sorted(env.snapshot()) == sorted(reference.snapshot())


def test_search_returns_what_there_is(tmp_path: Path) -> None:
    """k above the collection size (or above what a filter leaves) is not an error: no count() first."""
    import numpy as np

    from core.store import ChromaStore
    from core.types import Chunk

    col = ChromaStore(tmp_path / "chroma").open_for_write("docs", "fake", 3)
    assert col.search(np.array([1.0, 0.0, 0.0]), 5) == []
    chunks = [
        Chunk(f"c{i}", f"text {i}", f"doc{i}.md", 0, f"Doc {i}", "text", f"h{i}", language=lang)
        for i, lang in enumerate(["en", "es"])
    ]
    col.upsert(chunks, np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    assert [c.id for c, _ in col.search(np.array([1.0, 0.0, 0.0]), 50)] == ["c0", "c1"]
    assert [c.id for c, _ in col.search(np.array([1.0, 0.0, 0.0]), 50, {"language": "es"})] == ["c1"]


def test_a_copy_of_a_file_is_indexed_once_and_reported(env: Env, corpus_copy: Path) -> None:
    import shutil

    original = corpus_copy / "notes" / "exam-logistics.md"
    shutil.copy(original, corpus_copy / "notes" / "exam-logistics (copy).md")
    report = env.ingest(corpus_copy)
    pair = {Path(r.path).name: r for r in report.results if "exam-logistics" in r.path}
    assert sorted(r.status for r in pair.values()) == ["added", "skipped"]
    kept = next(name for name, r in pair.items() if r.status == "added")
    skipped = next(r for r in pair.values() if r.status == "skipped")
    assert skipped.reason.startswith("same content as ") and skipped.reason.endswith(kept)
    names = {c.source_name for c in env.store.open("test").get_where({"source_name": {"$ne": ""}})}
    assert kept in names and Path(skipped.path).name not in names
    (corpus_copy / "notes" / kept).unlink()  # the indexed one goes: the other is indexed next run
    again = env.ingest(corpus_copy)
    assert [r.status for r in again.results if r.path == skipped.path] == ["added"]


def test_identical_windows_do_not_crowd_the_results(env: Env, tmp_path: Path) -> None:
    from rag.retrieve import Retriever

    docs = tmp_path / "footer"
    docs.mkdir()
    footer = " ".join(["Copyright 2025 Universidad de Ejemplo. Todos los derechos reservados."] * 12)
    body = "\n\n".join(f"Sección {i}. El tema {i} trata de álgebra lineal.\n\n{footer}" for i in range(30))
    (docs / "apuntes.md").write_text(body, encoding="utf-8")
    (docs / "otro.md").write_text("La universidad publica sus derechos de copia en la web.\n")
    env.ingest(docs)
    retriever = Retriever(
        env.store.open("test"), env.embedder, LexicalIndex.load(env.lexical_dir()), fusion=fusion()
    )
    hits = retriever.retrieve("derechos reservados universidad copia", k=10)
    texts = [h.chunk.content_hash for h in hits]
    assert len(texts) == len(set(texts))  # each distinct text once


class _MemoryLeases:
    """The three lease calls of ChromaManifest, in memory (the lease logic is what is tested)."""

    def __init__(self) -> None:
        self.held: dict[str, dict[str, object]] = {}

    def holder(self, collection: str) -> dict[str, object] | None:
        return self.held.get(collection)

    def set_holder(self, collection: str, owner: str, expires: float) -> None:
        self.held[collection] = {"owner": owner, "expires": expires}

    def clear_holder(self, collection: str) -> None:
        self.held.pop(collection, None)


def test_server_lease_is_renewed_while_the_ingest_runs() -> None:
    from ingest.remote_manifest import ServerLease

    leases = _MemoryLeases()
    first = ServerLease(leases, "docs", ttl_s=0.3, settle_s=0.0)  # type: ignore[arg-type]
    with first:
        time.sleep(1.0)  # over three lease lengths: without renewal it would have expired
        second = ServerLease(leases, "docs", ttl_s=0.3, settle_s=0.0)  # type: ignore[arg-type]
        with pytest.raises(StoreError, match="another ingest"):
            second.__enter__()
    assert leases.holder("docs") is None  # released on exit
    with ServerLease(leases, "docs", ttl_s=0.3, settle_s=0.0):  # type: ignore[arg-type]
        pass


def test_progress_names_the_file_being_read_and_counts_files_as_they_are_read(
    env: Env, corpus_copy: Path
) -> None:
    progress = RecordingProgress()
    report = env.ingest(corpus_copy, progress)
    (start,) = progress.of("start")
    files = sorted(corpus_copy.rglob("*"))
    assert start[1] == 9 and start[2] == sum(f.stat().st_size for f in files if report_has(report, f))
    done = progress.of("done")
    assert len(done) == 9 and sum(int(str(e[3])) for e in done) == start[2]
    # Each file is named while it is read, before its outcome.
    for e in done:
        assert progress.events.index(("reading", e[1], "")) < progress.events.index(e)
    # All nine fit in one embedding group: every file is counted before that group is written,
    # so the file count does not sit at 0 until the write and then jump.
    first_embed = next(i for i, e in enumerate(progress.events) if e[0] == "embedded")
    assert all(progress.events.index(e) < first_embed for e in done)
    queued = sum(int(str(e[4])) for e in done)
    assert queued == sum(int(str(e[1])) for e in progress.of("embedded")) == report.collection_chunks


def test_progress_total_estimate() -> None:
    from rag.ui.ingest import estimated_total

    assert estimated_total(0, 0, 1000) is None
    assert estimated_total(40, 250, 1000) == 160  # a quarter read: four times the chunks
    assert estimated_total(40, 1000, 1000) == 40
    assert estimated_total(0, 1000, 1000) == 0  # nothing to embed (all unchanged)


def test_dry_run_reports_progress_too(env: Env, corpus_copy: Path) -> None:
    progress = RecordingProgress()
    plan = env.ingest(corpus_copy, progress, dry_run=True)
    assert len(progress.of("done")) == 9 and not progress.of("embedded")
    assert plan.seconds > 0


def report_has(report: object, path: Path) -> bool:
    return any(r.path == path.resolve().as_posix() for r in report.results)  # type: ignore[attr-defined]


def test_a_collection_keeps_its_chunking_unless_a_size_is_asked_for(env: Env, corpus_copy: Path) -> None:
    """A changed default must not re-embed every file at the next sync; an explicit size (or
    --reembed) still re-chunks."""
    built = ChunkConfig(64, 16)
    first = env.ingest(corpus_copy, chunk=built)
    before = env.snapshot()
    assert env.store.open("test").metadata["chunk_tokens"] == 64
    again = env.ingest(corpus_copy, chunk=ChunkConfig(128, 32), keep_chunking=True)
    assert statuses(again) == {"unchanged": 9} and again.chunks_embedded == 0
    assert env.snapshot() == before and env.store.open("test").metadata["chunk_tokens"] == 64
    asked = env.ingest(corpus_copy, chunk=ChunkConfig(128, 32))
    assert statuses(asked) == {"updated": 9} and asked.collection_chunks < first.collection_chunks
    assert env.store.open("test").metadata["chunk_tokens"] == 128
    env.ingest(corpus_copy, chunk=built)
    rebuilt = env.ingest(corpus_copy, chunk=ChunkConfig(128, 32), keep_chunking=True, reembed=True)
    assert rebuilt.chunks_embedded > 0 and env.store.open("test").metadata["chunk_tokens"] == 128


def test_chunk_config_round_trips_through_its_manifest_key() -> None:
    assert ChunkConfig.from_key(ChunkConfig(96, 32).key) == ChunkConfig(96, 32)
    assert ChunkConfig.from_key("other-v2:96") is None and ChunkConfig.from_key("win-v1:x:1") is None
