"""`rag serve` as a user runs it: a real process with real uvicorn on a free loopback port, the
fake backends of the real registries behind it, and real HTTP clients (httpx) in front."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from rag.cli import app

runner = CliRunner()


class Served:
    def __init__(self, home: Path, *extra: str) -> None:
        self.home = home
        cmd = [str(Path(sys.executable).with_name("rag")), "serve", "--port", "0", *extra]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 30
        while not (home / "server.json").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"rag serve did not start: {self.proc.communicate()[0]}")
            time.sleep(0.05)
        info = json.loads((home / "server.json").read_text())
        self.url, self.token = info["url"], info["token"]

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def get(self, path: str) -> Any:
        reply = httpx.get(self.url + path, headers=self.headers(), timeout=30)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(self.url + path, json=body, headers=self.headers(), timeout=60)

    def stream(self, body: dict[str, Any]) -> list[tuple[str, Any]]:
        events = []
        with httpx.stream("POST", self.url + "/api/ask", json=body, headers=self.headers(), timeout=60) as r:
            assert r.status_code == 200
            name = ""
            for line in r.iter_lines():
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    events.append((name, json.loads(line[5:])))
        return events

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=20)


@pytest.fixture()
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_GENERATOR_BACKEND", "scripted")
    monkeypatch.setenv("RAG_GENERATOR", "0.02")  # seconds per token
    monkeypatch.setenv("COLUMNS", "160")


@pytest.fixture()
def served(fakes: None, corpus_copy: Path, rag_home: Path) -> Iterator[Served]:
    assert runner.invoke(app, ["ingest", str(corpus_copy)]).exit_code == 0
    server = Served(rag_home)
    yield server
    server.stop()
    assert not (rag_home / "server.json").exists()  # a stopped server is not found by clients


def test_ask_streams_tokens_then_the_cited_answer(served: Served) -> None:
    assert served.get("/api/health")["server"] == "rag"
    events = served.stream({"question": "What is BM25 k1?"})
    tokens = [d["text"] for n, d in events if n == "token"]
    (answer,) = [d for n, d in events if n == "answer"]
    assert len(tokens) > 2 and answer["citations"] and answer["answer"].endswith("[1].")
    assert answer["tokens"]["output"] == len(tokens)
    plain = served.post("/api/ask", {"question": "What is BM25 k1?", "stream": False}).json()
    assert plain["answer"] == answer["answer"] and plain["citations"][0]["label"]


def test_search_status_and_errors(served: Served) -> None:
    hits = served.post("/api/search", {"question": "attention heads", "k": 3, "lang": "es"}).json()["hits"]
    assert len(hits) == 3 and all(h["language"] == "es" and h["text"] and h["label"] for h in hits)
    status = served.get("/api/status")
    assert status["collections"][0]["collection"] == "default" and status["waiting"] == 0
    bad = served.post("/api/ask", {"question": "x", "since": "2024-13-45", "stream": False})
    assert bad.status_code == 400 and "2024-13-45" in bad.json()["error"]
    missing = served.post("/api/ask", {"question": "x", "collection": "nope", "stream": False})
    assert missing.status_code == 400 and "nope" in missing.json()["error"]


def test_a_collection_rebuilt_by_another_process_is_searched_again(served: Served) -> None:
    """`rag doctor --repair` in another process swaps a rebuilt copy in under the same name and
    revision; the server must not keep querying the collection that was dropped."""
    from ingest.rebuild import rebuild_vectors
    from rag import wiring
    from rag.config import load_settings

    question = {"question": "attention heads", "k": 2}
    before = served.post("/api/search", question)
    assert before.status_code == 200, before.text
    s = load_settings()
    store = wiring.open_store(s)
    embedder_for = lambda collection: wiring.embedder_for_collection(s, collection)  # noqa: E731
    assert rebuild_vectors(store, s.collection, wiring.chroma_database(s), embedder_for) > 0
    after = served.post("/api/search", question)
    assert after.status_code == 200, after.text
    assert [h["label"] for h in after.json()["hits"]] == [h["label"] for h in before.json()["hits"]]


def test_documents_added_by_rag_ingest_in_another_process_are_searched(
    served: Served, corpus_copy: Path
) -> None:
    """The server's Chroma client kept the vector index it first loaded: after `rag ingest` here (a
    process of its own), its searches missed the new chunks and then failed ("Error finding id")."""
    assert served.post("/api/search", {"question": "attention heads", "k": 2}).status_code == 200
    (corpus_copy / "zebra.md").write_text("# Zebras\n\nThe zebra herd at the reserve counts 417 animals.\n")
    assert runner.invoke(app, ["ingest", str(corpus_copy)]).exit_code == 0
    reply = served.post("/api/search", {"question": "zebra herd at the reserve", "k": 3})
    assert reply.status_code == 200, reply.text
    top = reply.json()["hits"][0]
    assert top["source"].endswith("zebra.md") and top["dense"] is not None  # the vector index has it


def test_chat_turns_keep_a_session(served: Served, rag_home: Path) -> None:
    first = served.post(
        "/api/chat", {"question": "How fast does the centrifuge spin?", "session": "lab", "stream": False}
    )
    assert first.status_code == 200, first.text
    second = served.post(
        "/api/chat", {"question": "And who said that?", "session": "lab", "stream": False}
    ).json()
    saved = json.loads((rag_home / "sessions" / "lab.json").read_text())
    assert [t["question"] for t in saved["turns"]] == [
        "How fast does the centrifuge spin?",
        "And who said that?",
    ]
    assert saved["turns"][1]["kind"] == "speaker" and second["citations"]
    listed = served.get("/api/sessions")["sessions"]
    assert listed[0]["name"] == "lab" and listed[0]["turns"] == 2
    served.post("/api/sessions/lab/reset", {})
    assert served.get("/api/sessions/lab")["turns"] == []
    assert served.post("/api/chat", {"question": "hi", "stream": False}).status_code == 422


def test_a_client_that_disconnects_stops_its_generation(
    fakes: None, corpus_copy: Path, rag_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_GENERATOR", "1.0")  # a second a token: the answer takes seconds
    assert runner.invoke(app, ["ingest", str(corpus_copy)]).exit_code == 0
    server = Served(rag_home)
    try:
        with httpx.stream(
            "POST", server.url + "/api/ask", json={"question": "What is BM25 k1?"}, timeout=30
        ) as r:
            for line in r.iter_lines():
                if line.startswith("event: token"):
                    break  # the first token arrived: leave
        t = time.monotonic()
        while server.get("/api/status")["busy"]:
            assert time.monotonic() - t < 2.0, "the generation went on after the client left"
            time.sleep(0.05)
        # The next question is answered at once, not after the abandoned one.
        t = time.monotonic()
        server.post("/api/ask", {"question": "What is BM25 k1?", "stream": False})
        assert time.monotonic() - t < 30
    finally:
        server.stop()


def test_concurrent_questions_are_queued_and_each_answered(served: Served) -> None:
    questions = ["What is BM25 k1?", "How fast does the centrifuge spin?", "¿Qué es la atención?"]
    results: dict[str, dict[str, Any]] = {}

    def ask(q: str) -> None:
        results[q] = served.post("/api/ask", {"question": q, "stream": False}).json()

    threads = [threading.Thread(target=ask, args=(q,)) for q in questions]
    for t in threads:
        t.start()
    seen_waiting = 0
    while any(t.is_alive() for t in threads):
        seen_waiting = max(seen_waiting, served.get("/api/status")["waiting"])
        time.sleep(0.02)
    assert seen_waiting >= 1  # one answer at a time: the others wait for the generator
    alone = {q: served.post("/api/ask", {"question": q, "stream": False}).json() for q in questions}
    for q in questions:
        assert results[q]["question"] == q and results[q]["answer"] == alone[q]["answer"]


def test_ingest_through_the_server(served: Served, tmp_path: Path) -> None:
    docs = tmp_path / "more"
    docs.mkdir()
    (docs / "zebra.md").write_text("# Zebras\n\nThe zebra herd at the reserve counts 417 animals.\n")
    job = served.post("/api/ingest", {"path": str(docs), "collection": "extra"}).json()
    t = time.monotonic()
    while (state := served.get(f"/api/ingest/{job['id']}"))["state"] == "running":
        assert time.monotonic() - t < 30
        time.sleep(0.1)
    assert state["state"] == "done" and state["report"]["summary"]["added"] == 1 and state["files_done"] == 1
    hits = served.post("/api/search", {"question": "zebra herd", "collection": "extra"}).json()["hits"]
    assert hits[0]["source"].endswith("zebra.md")
    bad = served.post("/api/ingest", {"path": str(tmp_path / "nowhere")})
    assert bad.status_code == 400 and "nowhere" in bad.json()["error"]


def test_rag_ask_uses_a_running_server_and_falls_back_without_one(served: Served, rag_home: Path) -> None:
    result = runner.invoke(app, ["ask", "What is BM25 k1?"])
    assert result.exit_code == 0 and "answering through rag serve at " + served.url in result.output
    data = json.loads(runner.invoke(app, ["ask", "What is BM25 k1?", "--json"]).stdout)
    assert data["citations"] and data["answer"].endswith("[1].")
    served.stop()
    result = runner.invoke(app, ["ask", "What is BM25 k1?"])
    assert result.exit_code == 0 and "rag serve" not in result.output and "[1]" in result.output
    served.proc = subprocess.Popen([sys.executable, "-c", "pass"], text=True)  # the fixture stops something


def test_a_stale_server_file_is_ignored(fakes: None, corpus_copy: Path, rag_home: Path) -> None:
    assert runner.invoke(app, ["ingest", str(corpus_copy)]).exit_code == 0
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (rag_home / "server.json").write_text(
        json.dumps(
            {"url": "http://127.0.0.1:9", "pid": dead.pid, "token": None, "store": str(rag_home / "store")}
        )
    )
    result = runner.invoke(app, ["ask", "What is BM25 k1?"])
    assert result.exit_code == 0 and "rag serve" not in result.output


def test_binding_beyond_loopback_needs_a_token(fakes: None, rag_home: Path) -> None:
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 1 and "--token" in result.output


def test_a_token_is_required_when_set(fakes: None, corpus_copy: Path, rag_home: Path) -> None:
    assert runner.invoke(app, ["ingest", str(corpus_copy)]).exit_code == 0
    server = Served(rag_home, "--token", "s3cret")
    try:
        assert httpx.get(server.url + "/api/status", timeout=10).status_code == 401
        wrong = httpx.get(server.url + "/api/status", headers={"Authorization": "Bearer nope"}, timeout=10)
        assert wrong.status_code == 401
        assert server.get("/api/status")["collections"]
        assert oct(os.stat(rag_home / "server.json").st_mode & 0o777) == "0o600"  # it holds the token
        result = runner.invoke(app, ["ask", "What is BM25 k1?", "--json"])  # the CLI reads the token
        assert result.exit_code == 0 and json.loads(result.stdout)["citations"]
    finally:
        server.stop()


def test_rag_chat_talks_through_the_server(served: Served, rag_home: Path) -> None:
    script = (
        "How fast does the centrifuge spin?\nAnd who said that?\n/show 1\n/history\n/reset\n/history\n/exit\n"
    )
    result = runner.invoke(app, ["chat", "--session", "lab"], input=script)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "answering through rag serve at " + served.url in out
    after = dict(zip(script.splitlines(), out.split("you> ")[1:], strict=False))
    assert "[1]" in after["How fast does the centrifuge spin?"]
    assert "And who said that?" in after["/history"]  # the server's turns, read back
    assert "no history yet" in after["/reset"] or "no history yet" in out.split("conversation forgotten")[1]
    saved = json.loads((rag_home / "sessions" / "lab.json").read_text())
    assert saved["turns"] == []


def test_recordings_are_served_for_the_page_to_play_and_nothing_else(
    fakes: None, tmp_path: Path, rag_home: Path
) -> None:
    from tests.test_media import TALK_ES, recording

    docs = tmp_path / "talks"
    docs.mkdir()
    talk = recording(docs / "clase.mp4", TALK_ES)
    (docs / "notas.md").write_text("# Notas\n\nNada que ver.\n")
    assert runner.invoke(app, ["ingest", str(docs)]).exit_code == 0
    server = Served(rag_home)
    try:
        url = talk.resolve().as_uri()
        whole = httpx.get(server.url + "/api/media", params={"url": url + "#t=6"}, timeout=10)
        assert whole.status_code == 200 and whole.content == talk.read_bytes()
        part = httpx.get(
            server.url + "/api/media", params={"url": url}, headers={"Range": "bytes=0-9"}, timeout=10
        )
        assert part.status_code == 206 and part.content == talk.read_bytes()[:10]  # players can seek
        for other in (
            "file:///etc/passwd",
            (docs / "notas.md").resolve().as_uri(),
            "https://example.org/x.mp4",
        ):
            refused = httpx.get(server.url + "/api/media", params={"url": other}, timeout=10)
            assert refused.status_code == 400, other
        docs_json = server.get("/api/documents")["documents"]
        (row,) = [d for d in docs_json if d["name"] == "clase.mp4"]
        assert row["url"] == url and row["language"] == "es" and row["kind"] == "transcript"
    finally:
        server.stop()


def test_the_server_file_appears_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A client polling for the server never finds the file empty or half-written: it is written
    under another name and renamed into place, readable by this user only."""
    from rag.serve import runner

    seen_while_writing: list[bool] = []
    real_write = Path.write_text

    def write_text(self: Path, data: str, *args: Any, **kwargs: Any) -> int:
        seen_while_writing.append(self.name == runner.SERVER_FILE or (tmp_path / runner.SERVER_FILE).exists())
        return real_write(self, data, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)
    with runner.announced(tmp_path, "http://127.0.0.1:1", "secret", "store") as path:
        assert seen_while_writing == [False]
        assert json.loads(path.read_text())["token"] == "secret"
        assert path.stat().st_mode & 0o777 == 0o600
        assert [p.name for p in tmp_path.iterdir()] == [runner.SERVER_FILE]
    assert not path.exists()
