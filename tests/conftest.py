from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.config import default_model_cache

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
# Read before any test redirects XDG_CACHE_HOME: the slow tests use the models `make install` pulled.
REAL_MODEL_CACHE = default_model_cache()


@pytest.fixture(autouse=True)
def rag_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own $RAG_HOME and fake backends unless it asks for real ones."""
    # Every RAG_* setting of the developer's shell would change what the tests exercise.
    for var in [v for v in os.environ if v.startswith("RAG_")]:
        monkeypatch.delenv(var)
    home = tmp_path / "rag-home"
    monkeypatch.setenv("RAG_HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # never the developer's model cache
    monkeypatch.setenv("RAG_RERANKER_BACKEND", "identity")
    monkeypatch.setenv("RAG_RERANKER", "identity")
    monkeypatch.setenv("RAG_EMBEDDER_BACKEND", "hash")
    monkeypatch.setenv("RAG_EMBEDDER", "64")
    monkeypatch.setenv("RAG_TRANSCRIBER_BACKEND", "scripted")
    monkeypatch.setenv("RAG_TRANSCRIBER", "0")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home


def shared(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"../shared/data/{name} is not present beside the checkout")
    return path


CORPUS = Path(__file__).resolve().parents[1] / "corpus"


@pytest.fixture()
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of corpus/ (tests modify files)."""
    import shutil

    target = tmp_path / "docs"
    shutil.copytree(CORPUS, target)
    return target
