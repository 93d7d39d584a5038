"""A damaged vector index: named by the next command, found by `rag doctor`, rebuilt from the
texts the store holds by `rag doctor --repair`, with the same chunks and the same answers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from core.integrity import chroma_records, vector_problem
from core.store import ChromaStore, VectorCollection
from ingest.rebuild import rebuild_vectors
from rag.cli import app
from rag.config import load_settings
from rag.wiring import chroma_database, embedder_for_collection, open_store

runner = CliRunner()
QUESTION = "Which river did the caravan cross in note 417?"


@pytest.fixture()
def big_docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Enough chunks that Chroma writes its HNSW index to disk (a few hundred stay in its log)."""
    monkeypatch.setenv("RAG_CHUNK_TOKENS", "24")
    monkeypatch.setenv("RAG_CHUNK_OVERLAP", "4")
    monkeypatch.setenv("RAG_GENERATOR_BACKEND", "scripted")
    words = [
        "river",
        "caravan",
        "desert",
        "market",
        "salt",
        "copper",
        "harbour",
        "lantern",
        "orchard",
        "quarry",
    ]
    docs = tmp_path / "notes"
    docs.mkdir()
    for f in range(50):
        lines = [
            f"Note {n}: the caravan crossed the {words[n % 10]} river near {words[(n * 7) % 10]} town {n}."
            for n in range(f * 120, f * 120 + 120)
        ]
        (docs / f"notes-{f:02d}.md").write_text("\n\n".join(lines) + "\n")
    return docs


def _collection(home: Path) -> VectorCollection:
    return open_store(load_settings(home=home)).open("default")


def _records(home: Path) -> dict[str, tuple[str, dict[str, Any]]]:
    return {i: (t, m) for i, t, m in _collection(home).iter_records()}


def _segment_file(home: Path, name: str) -> Path:
    found = list((home / "store" / "chroma").glob(f"*/{name}"))
    assert found, f"Chroma wrote no {name}: the collection is too small to exercise its index on disk"
    return found[0]


def _rag(*args: str) -> subprocess.CompletedProcess[str]:
    """A command in its own process, as a user runs it: Chroma's bindings keep an opened index in
    memory for the process, and dropping that cache in-process after its files changed can crash."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "rag"), *args],  # the installed console script
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "300"},
    )


@pytest.mark.parametrize("part", ["index_metadata.pickle", "data_level0.bin", "header.bin"])
def test_a_damaged_vector_index_is_named_and_rebuilt_from_stored_texts(
    part: str, big_docs: Path, rag_home: Path, tmp_path: Path
) -> None:
    # This process opens no store until the repair is done (see `_rag`).
    assert _rag("ingest", str(big_docs)).returncode == 0
    clean = tmp_path / "clean-home"
    shutil.copytree(rag_home, clean)
    _segment_file(rag_home, part).write_bytes(b"\xff\xfe damaged \x00" * 64)

    again = _rag("ingest", str(big_docs))
    assert again.returncode == 1 and "rag doctor --repair" in again.stderr, again.stderr
    assert "Traceback" not in again.stderr and "internal error" not in again.stderr
    checked = _rag("doctor")
    assert checked.returncode == 1 and "damaged" in checked.stdout, checked.stdout
    repaired = _rag("doctor", "--repair")
    assert repaired.returncode == 0 and "repaired" in repaired.stdout, repaired.stdout + repaired.stderr

    before = _records(clean)
    assert _records(rag_home) == before  # same ids, texts and metadata
    sample = sorted(before)[::97]
    want = np.stack(_collection(clean).vectors(sample))
    assert np.allclose(np.stack(_collection(rag_home).vectors(sample)), want, atol=1e-5)
    assert vector_problem(_collection(rag_home)) == ""
    assert runner.invoke(app, ["ask", QUESTION, "--json"]).exit_code == 0
    assert runner.invoke(app, ["ingest", str(big_docs)]).exit_code == 0
    assert runner.invoke(app, ["doctor"]).exit_code == 0


def test_chunks_read_from_chromas_file_match_what_chroma_returns(corpus_copy: Path, rag_home: Path) -> None:
    assert runner.invoke(app, ["ingest", str(corpus_copy)]).exit_code == 0
    s = load_settings()
    read = chroma_records(chroma_database(s), "default")
    assert {i: (t, m) for i, t, m in read} == _records(rag_home)
    assert any(m.get("speakers") for _, _, m in read)  # list values come back as lists


def test_an_interrupted_rebuild_is_restarted_or_finished(big_docs: Path, rag_home: Path) -> None:
    assert runner.invoke(app, ["ingest", str(big_docs)]).exit_code == 0
    before = _records(rag_home)
    s = load_settings()
    store = ChromaStore(s.store_dir / "chroma")
    original = store.open("default")

    # Killed while filling: the original stays, the partial copy is dropped and the run restarts.
    partial = store.stage_rebuild("default", original.metadata)
    chunks = original.get(sorted(before)[:10])
    partial.upsert(chunks, embedder_for_collection(s, original).embed([c.text for c in chunks]))
    assert store.names() == ["default"]  # the copy is never listed as a collection
    assert runner.invoke(app, ["doctor"]).exit_code == 0  # nothing to swap: the original is whole

    # Killed between dropping the original and renaming the whole copy: the copy is swapped in.
    store.stage_rebuild("default", original.metadata)
    store.client.delete_collection("default")
    store.client.delete_collection("default.rebuild")
    whole = store.stage_rebuild("default", original.metadata)
    ids = sorted(before)
    records = [c for i in range(0, len(ids), 500) for c in original_chunks(s, ids[i : i + 500], before)]
    whole.upsert(records, embedder_for_collection(s, original).embed([c.text for c in records]))
    assert store.pending_rebuilds() == ["default"]
    checked = runner.invoke(app, ["doctor"], env={"COLUMNS": "300"})
    assert checked.exit_code == 1 and "interrupted rebuild" in checked.output
    assert runner.invoke(app, ["doctor", "--repair"]).exit_code == 0
    assert store.pending_rebuilds() == [] and _records(rag_home) == before

    seen: list[tuple[int, int]] = []  # a rebuild reports its progress: minutes with a real model
    rebuild_vectors(
        store,
        "default",
        chroma_database(s),
        lambda c: embedder_for_collection(s, c),
        on_progress=lambda d, t: seen.append((d, t)),
    )
    assert seen[-1] == (len(before), len(before)) and len(seen) > 1
    assert _records(rag_home) == before


def original_chunks(s: Any, ids: list[str], records: dict[str, tuple[str, dict[str, Any]]]) -> list[Any]:
    from core.types import Chunk

    return [Chunk.from_record(i, *records[i]) for i in ids]
