"""`rag ask` and `rag chat` through a running `rag serve`: found by its server file, checked alive,
answers streamed back as server-sent events and rebuilt into the same Answer the CLI renders."""

from __future__ import annotations

import http.client
import json
import os
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

from core.errors import RagError
from core.types import Chunk
from rag.generate import OnToken
from rag.serve.runner import SERVER_FILE
from rag.types import Answer, Citation, Hit


class Remote:
    """A running server, spoken to with the standard library: `rag ask` through a server should
    start fast, and an HTTP client library's imports cost more than the request."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url.rstrip("/")
        self.token = token

    def _connection(self, timeout: float | None) -> http.client.HTTPConnection:
        parsed = urllib.parse.urlparse(self.url)
        return http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port or 80, timeout=timeout)

    def _request(self, method: str, path: str, body: dict[str, Any] | None, timeout: float | None) -> Any:
        conn = self._connection(timeout)
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            conn.request(
                method, path, body=json.dumps(body).encode() if body is not None else None, headers=headers
            )
            return conn, conn.getresponse()
        except OSError as exc:
            conn.close()
            raise RagError(f"rag serve at {self.url} is not answering: {exc}") from None

    def post(self, path: str, body: dict[str, Any]) -> Any:
        conn, reply = self._request("POST", path, body, None)
        with closing(conn):
            return _checked(reply.status, reply.read().decode("utf-8", "replace"))

    def ask(
        self, body: dict[str, Any], on_token: OnToken | None = None, stop: threading.Event | None = None
    ) -> Answer:
        """One answer, streamed: tokens to `on_token`; setting `stop` disconnects, which stops the
        server's generation."""
        conn, reply = self._request("POST", "/api/ask", body | {"stream": True}, None)
        with closing(conn):
            if reply.status != 200:
                _checked(reply.status, reply.read().decode("utf-8", "replace"))
            lines = (raw.decode("utf-8").rstrip("\r\n") for raw in iter(reply.readline, b""))
            for name, data in _events(lines):
                if stop is not None and stop.is_set():
                    break
                if name == "token" and on_token is not None:
                    on_token(str(data["text"]))
                elif name == "answer":
                    return answer_from_json(data)
                elif name == "error":
                    raise RagError(str(data["error"]))
        return Answer(body["question"], body["question"], "", interrupted=True)

    def healthy(self) -> bool:
        try:
            conn, reply = self._request("GET", "/api/health", None, 0.5)
            with closing(conn):
                return bool(json.loads(reply.read()).get("server") == "rag")
        except (RagError, OSError, ValueError):
            return False


def find(home: Path, store: str) -> Remote | None:
    """The server announced in `home` if it serves this store and answers within half a second."""
    try:
        data = json.loads((home / SERVER_FILE).read_text(encoding="utf-8"))
        pid, url = int(data["pid"]), str(data["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if data.get("store") != store or not _alive(pid):
        return None
    remote = Remote(url, data.get("token"))
    return remote if remote.healthy() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _checked(status: int, text: str) -> Any:
    try:
        data = json.loads(text)
    except ValueError:
        data = {"error": text[:200]}
    if status != 200:
        reason = data.get("error") or data.get("detail") or f"HTTP {status}"
        raise RagError(f"rag serve: {reason}")
    return data


def _events(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    name, data = "message", ""
    for line in lines:
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
        elif not line and data:
            yield name, json.loads(data)
            name, data = "message", ""


def answer_from_json(data: dict[str, Any]) -> Answer:
    """The Answer `answer_json` described, for rendering on the client side."""
    citations = [Citation(**c) for c in data.get("citations", [])]
    hits = [
        Hit(_chunk(h), fused=h.get("fused") or 0.0, dense_score=h.get("dense"), rerank_score=h.get("rerank"))
        for h in data.get("hits", [])
    ]
    tokens = data.get("tokens", {})
    return Answer(
        question=data["question"],
        query=data["query"],
        text=data["answer"],
        abstained=data["abstained"],
        abstain_reason=data.get("abstain_reason", ""),
        filters=data.get("filters", ""),
        refused=data.get("refused", False),
        citations=citations,
        hits=hits,
        input_tokens=tokens.get("input", 0),
        output_tokens=tokens.get("output", 0),
        timings=data.get("timings", {}),
        model=data.get("model", ""),
        replaced_facts=data.get("replaced_facts", []),
        dropped_sentences=data.get("dropped_sentences", []),
        interrupted=data.get("interrupted", False),
    )


def _chunk(h: dict[str, Any]) -> Chunk:
    return Chunk(
        h["id"],
        h.get("text", ""),
        h["source"],
        h["chunk_index"],
        h.get("title", ""),
        h.get("kind", ""),
        "",
        page_start=h.get("page_start"),
        page_end=h.get("page_end"),
        start_s=h.get("start_s"),
        end_s=h.get("end_s"),
        speakers=tuple(h.get("speakers", ())),
        language=h.get("language"),
        date=h.get("date"),
    )
