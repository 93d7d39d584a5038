"""The same `rag` against a real Chroma server (`chroma run` from the installed chromadb) on
127.0.0.1. No mocks of the server."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag.cli import app

# A real Chroma server per test (seconds each): part of the full suite, not of `make test-fast`.
pytestmark = pytest.mark.slow

runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        exe = shutil.which("chroma") or str(Path(__import__("sys").executable).with_name("chroma"))
        self.proc = subprocess.Popen(
            [exe, "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("chroma server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc = None


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[Server]:
    if not (shutil.which("chroma") or Path(__import__("sys").executable).with_name("chroma").exists()):
        pytest.skip("the `chroma` command of chromadb is not installed")
    srv = Server(tmp_path / "server-data")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_GENERATOR_BACKEND", "scripted")
    monkeypatch.setenv("COLUMNS", "120")


def ingest(server: Server, path: Path, *extra: str) -> dict[str, object]:
    result = runner.invoke(app, ["ingest", str(path), "--chroma-url", server.url, "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_ingest_incremental_and_ask_against_server(
    server: Server, corpus_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = ingest(server, corpus_copy)
    assert first["summary"]["added"] == 9  # type: ignore[index]
    again = ingest(server, corpus_copy)
    assert again["summary"]["unchanged"] == 9 and again["chunks_embedded"] == 0  # type: ignore[index]
    notes = corpus_copy / "notes" / "glosario.txt"
    notes.write_text(
        notes.read_text(encoding="utf-8") + "\nHiperparámetro: valor fijado antes de entrenar.\n",
        encoding="utf-8",
    )
    (corpus_copy / "notes" / "exam-logistics.md").unlink()
    third = ingest(server, corpus_copy)
    assert third["summary"]["updated"] == 1 and third["summary"]["removed"] == 1  # type: ignore[index]

    result = runner.invoke(app, ["status", "--chroma-url", server.url, "--json"])
    status = json.loads(result.stdout)
    assert [c["collection"] for c in status["collections"]] == [
        "default"
    ]  # the manifest collection is hidden
    assert status["collections"][0]["documents"] == 8

    # A second machine (another $RAG_HOME, no local state) sees the same manifest and index.
    monkeypatch.setenv("RAG_HOME", str(tmp_path / "other-machine"))
    fourth = ingest(server, corpus_copy)
    assert fourth["summary"]["unchanged"] == 8  # type: ignore[index]
    result = runner.invoke(app, ["ask", "Menabrea", "--chroma-url", server.url, "--json"])
    data = json.loads(result.stdout)
    assert data["hits"][0]["source"].endswith("historia-04-lovelace.srt")
    assert data["hits"][0]["lexical"] is not None  # the BM25 leg was rebuilt from the server


def test_same_results_as_embedded_store(
    server: Server, corpus_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest(server, corpus_copy)
    assert runner.invoke(app, ["ingest", str(corpus_copy)]).exit_code == 0
    remote = json.loads(
        runner.invoke(app, ["ask", "residual connections", "--chroma-url", server.url, "--json"]).stdout
    )
    local = json.loads(runner.invoke(app, ["ask", "residual connections", "--json"]).stdout)
    assert [h["id"] for h in remote["hits"]] == [h["id"] for h in local["hits"]]


def test_concurrent_ingest_is_refused(server: Server, corpus_copy: Path) -> None:
    from core.store import ChromaStore
    from ingest.remote_manifest import ChromaManifest, ServerLease

    manifest = ChromaManifest(ChromaStore(url=server.url))
    with ServerLease(manifest, "default"):
        result = runner.invoke(app, ["ingest", str(corpus_copy), "--chroma-url", server.url])
        assert result.exit_code == 1 and "another ingest" in result.output
    ingest(server, corpus_copy)  # the lease was released


def test_server_down_then_back(server: Server, corpus_copy: Path, tmp_path: Path) -> None:
    ingest(server, corpus_copy / "lectures")
    server.stop()
    result = runner.invoke(app, ["ingest", str(corpus_copy), "--chroma-url", server.url])
    assert result.exit_code == 1
    assert "Chroma" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) <= 3
    server.start()  # same data folder, same port
    report = ingest(server, corpus_copy)
    assert report["summary"]["added"] == 3 and report["summary"]["unchanged"] == 6  # type: ignore[index]
    from core.store import ChromaStore

    col = ChromaStore(url=server.url).open("default")
    ids = [i for i, _, _ in col.iter_records(include_text=False)]
    assert len(ids) == len(set(ids)) == report["collection_chunks"]


def test_unreachable_server_is_one_line(tmp_path: Path, corpus_copy: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    for args in (["ingest", str(corpus_copy)], ["status"], ["ask", "hello"]):
        result = runner.invoke(app, [*args, "--chroma-url", url])
        assert result.exit_code == 1, args
        assert "cannot open Chroma store" in result.output and "Traceback" not in result.output


def test_server_restart_mid_ingest(server: Server, corpus_copy: Path, tmp_path: Path) -> None:
    import threading

    from core.embedder import make_embedder
    from core.errors import StoreError
    from core.store import ChromaStore
    from ingest.chunking import ChunkConfig
    from ingest.pipeline import IngestOptions, Ingestor
    from ingest.remote_manifest import ChromaManifest

    def run(delay: float) -> object:
        store = ChromaStore(url=server.url)
        options = IngestOptions(collection="test", chunk=ChunkConfig(size=64, overlap=8), embed_group=4)
        embedder = make_embedder("hash", "64", delay=delay)
        return Ingestor(store, ChromaManifest(store), embedder, tmp_path / "lex", options).run(corpus_copy)

    errors: list[BaseException] = []

    def target() -> None:
        try:
            run(0.15)
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=target)
    worker.start()
    time.sleep(3.0)
    server.stop()
    worker.join(timeout=60)
    assert errors and isinstance(errors[0], StoreError), errors
    server.start()
    report = run(0.0)
    col = ChromaStore(url=server.url).open("test")
    ids = [i for i, _, _ in col.iter_records(include_text=False)]
    assert len(ids) == len(set(ids)) == report.collection_chunks  # type: ignore[attr-defined]
    reference = Path(tmp_path / "ref")
    from tests.helpers import Env

    env = Env(reference)
    env.ingest(corpus_copy)
    assert sorted(ids) == sorted(env.snapshot())
