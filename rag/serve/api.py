"""The HTTP API of `rag serve` (FastAPI): ask and chat (streamed as server-sent events, or one JSON
reply), search, sessions, ingest, status. Every route but `/api/health` needs the bearer token when
the server has one. A client that disconnects stops its generation."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import threading
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from core.errors import Cancelled, RagError
from rag.serve.service import Question, Service
from rag.ui.render import answer_json, hit_json


class AskBody(BaseModel):
    question: str = Field(min_length=1, max_length=4000)
    collection: str | None = None
    source: str | None = None
    speaker: str | None = None
    since: str | None = None
    until: str | None = None
    lang: str | None = None
    rerank: bool = True
    session: str | None = None
    stream: bool = True

    def query(self) -> Question:
        names = [f.name for f in dataclasses.fields(Question) if f.name != "text"]
        return Question(self.question, **{name: getattr(self, name) for name in names})


class SearchBody(AskBody):
    k: int = Field(10, ge=1, le=100)


class IngestBody(BaseModel):
    path: str
    collection: str | None = None


def _event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def create_app(service: Service, token: str | None = None) -> FastAPI:
    app = FastAPI(title="rag", docs_url=None, redoc_url=None, openapi_url=None)

    def authorized(
        authorization: str | None = Header(None), token_param: str | None = Query(None, alias="token")
    ) -> None:
        """The bearer header; or `?token=` for what a page cannot send headers with (media)."""
        if token is None:
            return
        given = (authorization or "").removeprefix("Bearer ").strip() or (token_param or "")
        if not secrets.compare_digest(given.encode(), token.encode()):
            raise HTTPException(401, "a valid bearer token is required")

    @app.exception_handler(RagError)
    async def rag_error(_: Request, exc: RagError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=400)

    @app.exception_handler(Exception)
    async def internal_error(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": f"internal error: {type(exc).__name__}: {exc}"}, status_code=500)

    guarded = [Depends(authorized)]

    @app.get("/api/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "server": "rag"}

    @app.get("/api/status", dependencies=guarded)
    async def status() -> dict[str, Any]:
        return await asyncio.to_thread(service.status)

    @app.post("/api/ask", dependencies=guarded, response_model=None)
    async def ask(body: AskBody, request: Request) -> Any:
        query = body.query()
        if not body.stream:
            answer = await asyncio.to_thread(service.ask, query)
            return answer_json(answer)
        return StreamingResponse(_stream(service, query), media_type="text/event-stream")

    @app.post("/api/chat", dependencies=guarded, response_model=None)
    async def chat(body: AskBody, request: Request) -> Any:
        if not body.session:
            raise HTTPException(422, "a chat turn needs a session name")
        return await ask(body, request)

    @app.post("/api/search", dependencies=guarded)
    async def search(body: SearchBody) -> dict[str, Any]:
        hits = await asyncio.to_thread(service.search, body.query(), body.k)
        return {"query": body.question, "hits": [hit_json(h, with_text=True) for h in hits]}

    @app.get("/api/sessions", dependencies=guarded)
    async def sessions() -> dict[str, Any]:
        return {"sessions": await asyncio.to_thread(service.sessions)}

    @app.get("/api/sessions/{name}", dependencies=guarded)
    async def session(name: str) -> dict[str, Any]:
        memory = await asyncio.to_thread(service.memory, name)
        return asdict(memory.session)

    @app.post("/api/sessions/{name}/reset", dependencies=guarded)
    async def reset(name: str) -> dict[str, str]:
        await asyncio.to_thread(service.reset, name)
        return {"session": name, "status": "reset"}

    @app.get("/api/documents", dependencies=guarded)
    async def documents(collection: str | None = None) -> dict[str, Any]:
        return {"documents": await asyncio.to_thread(service.documents, collection)}

    @app.get("/api/media", dependencies=guarded, response_model=None)
    async def media(url: str, collection: str | None = None) -> FileResponse:
        # Range requests are served, so a player can seek straight to the cited second.
        return FileResponse(await asyncio.to_thread(service.media, collection, url))

    @app.put("/api/upload", dependencies=guarded)
    async def upload(request: Request, name: str, collection: str | None = None) -> dict[str, str]:
        data = await request.body()
        return await asyncio.to_thread(service.upload, collection, name, data)

    @app.post("/api/ingest", dependencies=guarded)
    async def ingest(body: IngestBody) -> dict[str, Any]:
        return service.start_ingest(body.path, body.collection).__dict__

    @app.get("/api/ingest/{job_id}", dependencies=guarded)
    async def ingest_job(job_id: str) -> dict[str, Any]:
        job = service.jobs.get(job_id)
        if job is None:
            raise HTTPException(404, f"no ingest job {job_id}")
        return job.__dict__

    static = Path(__file__).with_name("static")
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(static / "index.html")

    return app


async def _stream(service: Service, query: Question) -> AsyncIterator[str]:
    """Tokens as they are generated, then the whole answer. The answer runs in a worker thread;
    when the client goes away Starlette cancels this generator, and `stop` ends the generation
    (or its wait for a turn) at the next token."""
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    stop = threading.Event()

    def put(name: str, data: Any) -> None:
        loop.call_soon_threadsafe(events.put_nowait, (name, data))

    def work() -> None:
        try:
            answer = service.ask(query, lambda piece: put("token", {"text": piece}), stop)
            put("answer", answer_json(answer, full_text=True))
        except Cancelled:
            put("end", None)
        except RagError as exc:
            put("error", {"error": str(exc)})
        except Exception as exc:  # the stream must end with a reason, not hang
            put("error", {"error": f"internal error: {type(exc).__name__}: {exc}"})

    # Not awaited when the client leaves: `stop` ends it at the next token, and `work` catches all.
    loop.run_in_executor(None, work)
    try:
        while True:
            name, data = await events.get()
            if name == "end":
                break
            yield _event(name, data)
            if name in ("answer", "error"):
                break
    finally:
        stop.set()
