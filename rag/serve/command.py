"""`rag serve`, and how the other commands find a running server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

from rag.config import Settings

if TYPE_CHECKING:
    from rag.serve.client import Remote


def store_key(s: Settings) -> str:
    """What a server serves: its clients must be asking the same store."""
    return s.chroma_url or str(s.store_dir.resolve())


def serve(s: Settings, err: Console, *, preload: bool) -> None:
    from rag import wiring
    from rag.serve.api import create_app
    from rag.serve.runner import announced, bind, check_bind, serve, url_of
    from rag.serve.service import Service

    check_bind(s.serve_host, s.serve_token)
    sock = bind(s.serve_host, s.serve_port)

    # first_use says what a first run builds, and builds it before the other models load.
    service = Service(s, wiring.Resident(s, generator=wiring.first_use(s)))
    if preload:
        err.print("[dim]loading the models…[/]")
        service.resident.generator()
        service.resident.ingest_embedder()
        service.resident.reranker()
    url = url_of(sock)
    app = create_app(service, s.serve_token)
    with announced(s.home, url, s.serve_token, store_key(s)):
        serve(
            app,
            s.server_backend,
            sock,
            lambda: err.print(
                f"rag serve: listening on [bold]{url}[/] (store {store_key(s)}); "
                "`rag ask` and `rag chat` use it now. Ctrl-C stops it.",
                highlight=False,
            ),
        )


def running_server(s: Settings, generator_flag: str | None) -> Remote | None:
    """A running server for this store, unless the user opted out or asked for another generator."""
    if not s.use_server or generator_flag:
        return None
    from rag.serve.client import find

    return find(s.home, store_key(s))
