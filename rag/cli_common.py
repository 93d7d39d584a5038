"""What every `rag` command shares: the consoles, the option types, the one-line error wrapper,
settings with readable validation errors, and the process set-up (quiet libraries, status lines)."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

console = Console()
err = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])
# `rag ingest` finished, everything readable is indexed, but some files could not be read: distinct
# from 1 (the run itself failed) so scripts can tell "partly done" from "not done".
FAILED_FILES_EXIT = 3

CollectionOpt = Annotated[
    str | None, typer.Option("--collection", "-c", help="Collection name (default: settings, 'default').")
]
StoreOpt = Annotated[
    Path | None,
    typer.Option("--store", help="Chroma folder for the embedded store (default: $RAG_HOME/store)."),
]
UrlOpt = Annotated[
    str | None, typer.Option("--chroma-url", help="Use a Chroma server, e.g. http://127.0.0.1:8000.")
]
TokenOpt = Annotated[
    str | None,
    typer.Option("--chroma-token", help="Auth token for the Chroma server.", envvar="RAG_CHROMA_TOKEN"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


SourceOpt = Annotated[
    str | None, typer.Option("--source", help="Only documents whose path matches this glob.")
]
SpeakerOpt = Annotated[str | None, typer.Option("--speaker", help="Only passages with this speaker.")]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="Only documents dated on/after YYYY[-MM[-DD]].")
]
UntilOpt = Annotated[
    str | None, typer.Option("--until", help="Only documents dated on/before YYYY[-MM[-DD]].")
]
LangOpt = Annotated[str | None, typer.Option("--lang", help="Only documents in this language (en, es, ...).")]
RerankOpt = Annotated[
    bool, typer.Option("--rerank/--no-rerank", help="Rerank candidates with the cross-encoder.")
]
GeneratorOpt = Annotated[
    str | None, typer.Option("--generator", "-g", help="Generator spec (bundled name, path or hub id).")
]


def friendly(fn: F) -> F:
    """Expected failures → one red line and exit 1; Ctrl-C → exit 130, never a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from core.errors import RagError

        try:
            return fn(*args, **kwargs)
        except RagError as exc:
            from rag.ui.render import markup_safe

            err.print(f"[red]error:[/] {markup_safe(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print(
                "[yellow]interrupted[/]; what was written is consistent — run the command again to finish"
            )
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            if os.environ.get("RAG_DEBUG"):
                raise
            from rag.ui.render import markup_safe

            err.print(
                f"[red]internal error:[/] {type(exc).__name__}: {markup_safe(str(exc))} (set RAG_DEBUG=1 for a traceback)",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def settings(**overrides: Any) -> Any:
    from pydantic import ValidationError

    from rag.config import load_settings
    from rag.errors import InputError

    try:
        s = load_settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(f"invalid setting {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    # Decided here, from every settings source (config.toml included), before any hub client loads:
    # an offline machine would otherwise wait on timeouts.
    if not s.allow_network:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return s


def quiet_libraries() -> None:
    """Library progress bars and advisories would garble our own output."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")  # transformers' GGUF conversion bar ignores its own switch
    import warnings

    # torch deprecates the int8 tensor API we load through; its warnings are for developers.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"torch(\..*)?$")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch(\..*)?$")


def show_status_lines() -> None:
    """What `rag.*` loggers announce at INFO (slow first-time steps: pulling, converting,
    quantizing, loading) is printed on stderr as it happens, with the time since start."""
    import logging
    import time

    start = time.monotonic()

    class ToConsole(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            from rag.ui.render import markup_safe

            err.print(
                f"[dim]{time.monotonic() - start:5.1f}s  {markup_safe(record.getMessage())}[/]",
                highlight=False,
            )

    log = logging.getLogger("rag")
    log.setLevel(logging.INFO)
    log.addHandler(ToConsole())
    log.propagate = False
