from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import Settings, load_settings


def test_defaults_follow_rag_home(rag_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAG_EMBEDDER", raising=False)
    monkeypatch.delenv("RAG_RERANKER", raising=False)
    s = Settings()
    assert s.home == rag_home
    assert s.store_dir == rag_home / "store"
    assert s.models_dir == rag_home / "models"
    assert s.embedder == "all-MiniLM-L6-v2"
    assert s.generator == "qwen2.5-coder-1.5b-instruct"
    assert s.reranker == "rag-reranker-minilm-l6" and s.rerank_fusion is True and s.quantize is True
    monkeypatch.setenv("RAG_RERANKER", "")
    assert not Settings().reranker  # how to switch reranking off


def test_precedence_explicit_env_file_default(rag_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rag_home.mkdir(parents=True)
    (rag_home / "config.toml").write_text('collection = "from-file"\ntop_k = 9\nmax_new_tokens = 100\n')
    assert Settings().collection == "from-file" and Settings().top_k == 9
    monkeypatch.setenv("RAG_COLLECTION", "from-env")
    monkeypatch.setenv("RAG_TOP_K", "3")
    s = Settings()
    assert (s.collection, s.top_k, s.max_new_tokens) == ("from-env", 3, 100)
    s = load_settings(collection="explicit", top_k=None)
    assert (s.collection, s.top_k) == ("explicit", 3)  # None means "not given"


def test_config_file_from_rag_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "elsewhere.toml"
    cfg.write_text('generator = "qwen2.5-coder-0.5b-instruct"\nquantize = false\n')
    monkeypatch.setenv("RAG_CONFIG", str(cfg))
    s = Settings()
    assert s.generator == "qwen2.5-coder-0.5b-instruct" and s.quantize is False


def test_invalid_values_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv("RAG_TOP_K", "many")
    with pytest.raises(ValidationError):
        Settings()


def test_answer_options_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.wiring import ask_options

    monkeypatch.setenv("RAG_RERANK_FUSION", "true")
    monkeypatch.setenv("RAG_RERANK_THRESHOLD", "0.25")
    options = ask_options(Settings(), "hash:256", None)
    assert options.rerank_fusion is True and options.abstention.rerank_min == 0.25
    monkeypatch.setenv("RAG_RERANK_FUSION", "false")
    assert ask_options(Settings(), "hash:256", None).rerank_fusion is False
