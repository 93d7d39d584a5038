from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rag.config import Settings, default_model_cache, load_settings


def test_defaults_follow_rag_home(rag_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAG_EMBEDDER", raising=False)
    monkeypatch.delenv("RAG_RERANKER", raising=False)
    s = Settings()
    assert s.home == rag_home
    assert s.store_dir == rag_home / "store"
    assert s.models_dir == default_model_cache() and "rag-home" not in str(s.models_dir)
    assert s.embedder == "embeddinggemma-300m"
    assert s.generator == "qwen2.5-coder-1.5b-instruct"
    assert s.reranker is None and s.rerank_fusion is True and s.quantize is True  # measured: off
    monkeypatch.setenv("RAG_RERANKER", "rag-reranker-minilm-l6")
    assert Settings().reranker == "rag-reranker-minilm-l6"  # how to switch the built-in one on


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


README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_reference_sections_are_current() -> None:
    from rag.ui.reference import render

    text = README.read_text(encoding="utf-8")
    assert render(text) == text, "README drifted: run python scripts/update_readme.py"


def test_readme_settings_table_matches_settings_defaults() -> None:
    """Read the table back and compare each default with the field's own: one definition each."""
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in README.read_text(encoding="utf-8").splitlines()
        if line.startswith("| ") and "`RAG_" in line
    ]
    documented = {name: default.strip("`") for name, _, default, _ in rows}
    assert set(documented) == set(Settings.model_fields)  # every setting, once
    for name, field in Settings.model_fields.items():
        value = field.get_default(call_default_factory=False)
        if name == "home":
            continue  # a factory: $RAG_HOME or ~/.rag
        shown = "unset" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        assert documented[name] == shown, name


def test_every_answer_budget_comes_from_settings() -> None:
    from dataclasses import fields

    from rag.wiring import ask_options

    # Composites of several settings, checked on their own.
    budget = [
        f.name
        for f in fields(ask_options(Settings(), "hash:256", None))
        if f.name not in ("abstention", "fusion")
    ]

    def other(value: Any) -> Any:
        if isinstance(value, bool):
            return not value
        if isinstance(value, float) and value < 1:
            return value / 2  # a share: stays in 0..1
        return "plain" if isinstance(value, str) else value * 2 + 1

    changed: dict[str, Any] = {n: other(v) for n, v in Settings().model_dump().items() if n in budget}
    assert set(changed) == set(budget)  # every option has a setting of the same name
    options = ask_options(Settings(**changed), "hash:256", None)
    assert {name: getattr(options, name) for name in budget} == changed
    fusion = ask_options(Settings(fusion="rank", dense_share=0.4, dense_weight=2.5), "hash:256", None).fusion
    assert (fusion.method, fusion.dense_share, fusion.dense_weight) == ("rank", 0.4, 2.5)


@pytest.mark.parametrize(
    ("var", "value"),
    [("RAG_CONTEXT_NEIGHBOURS", "-3"), ("RAG_TOP_K", "0"), ("RAG_GENERATOR_PRECISION", "int2")],
)
def test_out_of_range_settings_are_refused(monkeypatch: pytest.MonkeyPatch, var: str, value: str) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv(var, value)
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("topk = 3\n", "unknown setting 'topk' (did you mean 'top_k'?)"),
        ("top_k = [\n", "not a readable TOML file"),
        ("top_k = -3\n", "invalid setting top_k"),
    ],
)
def test_bad_config_files_are_one_line_errors_naming_the_file(
    rag_home: Path, content: str, message: str
) -> None:
    from typer.testing import CliRunner

    from rag.cli import app

    rag_home.mkdir(parents=True, exist_ok=True)
    (rag_home / "config.toml").write_text(content)
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
    if "invalid" not in message:
        assert str(rag_home / "config.toml") in result.output


def test_missing_rag_config_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from rag.cli import app

    monkeypatch.setenv("RAG_CONFIG", str(tmp_path / "nope.toml"))
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 1 and "nope.toml, which does not exist" in result.output


def test_allow_network_from_the_config_file_is_honoured(
    rag_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from typer.testing import CliRunner

    from rag.cli import app

    rag_home.mkdir(parents=True, exist_ok=True)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    (rag_home / "config.toml").write_text("allow_network = true\n")
    assert CliRunner().invoke(app, ["status"]).exit_code == 0
    assert "HF_HUB_OFFLINE" not in os.environ
    (rag_home / "config.toml").write_text("allow_network = false\n")
    assert CliRunner().invoke(app, ["status"]).exit_code == 0
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
