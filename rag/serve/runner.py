"""Running the API: the bind checks, the server file clients find it by, and the ASGI server
(a registry entry, `uvicorn` by default)."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.errors import InputError
from core.files import write_text
from core.registry import Registry

# name → run(app, sock): serve the app on an already bound socket until interrupted
SERVERS: Registry[None] = Registry("server")
SERVER_FILE = "server.json"


@SERVERS.register("uvicorn")
def run_uvicorn(app: Any, sock: socket.socket, **_: Any) -> None:
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Anything but loopback is reachable by other machines: only with a token."""
    if not is_loopback(host) and not token:
        raise InputError(
            f"binding to {host} exposes your documents to the network: pass --token (or set RAG_SERVE_TOKEN)"
        )


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


@contextmanager
def announced(home: Path, url: str, token: str | None, store: str) -> Iterator[Path]:
    """The server file `rag ask` and `rag chat` find a running server by (readable by this user
    only: it holds the token), removed when the server stops."""
    path = home / SERVER_FILE
    data = {"url": url, "pid": os.getpid(), "token": token, "store": store}
    # Renamed into place: a client looking for the server never reads a half-written file (under
    # load one did, and fell back to answering in-process); only this user can read the token.
    write_text(path, json.dumps(data), prefix=".server-", suffix=".json")
    try:
        yield path
    finally:
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError):
            pass


def serve(app: Any, backend: str, sock: socket.socket, on_ready: Callable[[], None] | None = None) -> None:
    if on_ready is not None:
        on_ready()
    SERVERS.make(backend, app, sock)
