"""The `rag` command line. Thin: parse options, build backends through `rag.wiring`, render with rich.
Expected errors become one red line on stderr and exit 1; usage errors exit 2 (Typer's own)."""

from __future__ import annotations

import atexit
import json
import signal
import sys
from collections.abc import Callable
from contextlib import ExitStack, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rag import __version__
from rag.cli_common import (
    FAILED_FILES_EXIT,
    CollectionOpt,
    GeneratorOpt,
    JsonOpt,
    LangOpt,
    RerankOpt,
    SinceOpt,
    SourceOpt,
    SpeakerOpt,
    StoreOpt,
    TokenOpt,
    UntilOpt,
    UrlOpt,
    console,
    err,
    friendly,
    quiet_libraries,
    settings,
    show_status_lines,
)
from rag.cli_eval import eval_
from rag.cli_models import models_app

if TYPE_CHECKING:
    from ingest.media import MediaTranscripts
    from ingest.pipeline import IngestReport
    from rag.types import Answer

app = typer.Typer(
    name="rag",
    help="Local-first retrieval-augmented assistant: ingest a folder, then ask questions and get cited answers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"rag {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """rag: answers from your own documents, with citations, on your own machine."""


@app.command()
@friendly
def ingest(
    path: Annotated[Path, typer.Argument(help="Folder or file to index.")],
    collection: CollectionOpt = None,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    chroma_token: TokenOpt = None,
    prune: Annotated[
        bool, typer.Option("--prune/--no-prune", help="Remove documents whose files are gone.")
    ] = True,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change, change nothing.")
    ] = False,
    reembed: Annotated[
        bool, typer.Option("--reembed", help="Rebuild the collection with the configured embedder.")
    ] = False,
    password: Annotated[str | None, typer.Option("--password", help="Password for protected PDFs.")] = None,
    chunk_tokens: Annotated[
        int | None,
        typer.Option(
            "--chunk-tokens",
            min=16,
            help="Chunk size in embedder tokens (an existing collection keeps its own unless this is given).",
        ),
    ] = None,
    chunk_overlap: Annotated[
        int | None, typer.Option("--chunk-overlap", min=0, help="Overlap between chunks in tokens.")
    ] = None,
    max_file_mb: Annotated[
        int | None, typer.Option("--max-file-mb", min=1, help="Skip files larger than this.")
    ] = None,
    export_transcripts: Annotated[
        Path | None,
        typer.Option(
            "--export-transcripts",
            help="Also write each recording's transcript as <name>.srt here: correct it, put it beside the recording, re-ingest.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Index a folder (or file) into a collection, keeping it in sync on every re-run.
    Audio and video are transcribed once (cached by content) and indexed with their times.

    Exit status: 0 all done; 3 done, but some files could not be read (listed); 1 not done."""
    from ingest.pipeline import IngestOptions, Ingestor
    from rag import wiring
    from rag.errors import InputError
    from rag.ui.ingest import RichProgress, render_report

    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    s = settings(
        collection=collection,
        store=store,
        chroma_url=chroma_url,
        chroma_token=chroma_token,
        chunk_tokens=chunk_tokens,
        chunk_overlap=chunk_overlap,
        max_file_mb=max_file_mb,
    )
    embedder = wiring.embedder_for_ingest(s)
    options = IngestOptions(
        collection=s.collection,
        chunk=wiring.chunk_config(s, embedder),
        prune=prune,
        dry_run=dry_run,
        reembed=reembed,
        password=password,
        max_file_bytes=s.max_file_mb * 1024 * 1024,
        transcripts=wiring.transcripts(s),
        keep_chunking=wiring.keeps_chunking(s),
    )
    progress = RichProgress(err) if not as_json and sys.stderr.isatty() else None
    with wiring.ingest_session(s) as (store_, manifest), progress or ExitStack():
        lexical = wiring.lexical_dir(s, s.collection)
        report = Ingestor(store_, manifest, embedder, lexical, options, progress).run(path)
    if export_transcripts is not None and not dry_run:
        _export(report, options.transcripts, export_transcripts)
    if as_json:
        console.print_json(json.dumps(report.to_dict()))
    else:
        render_report(report, console, err)
    if report.count("failed") and not dry_run:
        raise typer.Exit(FAILED_FILES_EXIT)


def _export(report: IngestReport, transcripts: MediaTranscripts | None, out_dir: Path) -> None:
    from ingest.media import export_transcripts, is_media
    from rag.ui.render import markup_safe

    if transcripts is None:
        return
    media = [
        Path(r.path)
        for r in report.results
        if r.status in ("added", "updated", "unchanged") and is_media(Path(r.path))
    ]
    written = export_transcripts(media, transcripts, out_dir)
    err.print(f"[dim]wrote {len(written)} transcript(s) to {markup_safe(str(out_dir))}[/]", highlight=False)


@app.command()
@friendly
def status(
    collection: CollectionOpt = None,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    chroma_token: TokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List collections (chunks, chunk size, embedder, last ingest); with --collection, its documents."""
    from dataclasses import asdict

    from ingest import status as report
    from rag import wiring
    from rag.abstain import calibration_gap
    from rag.ui.ingest import collections_table, documents_table
    from rag.ui.render import markup_safe

    s = settings(store=store, chroma_url=chroma_url, chroma_token=chroma_token)
    store_ = wiring.open_store(s)
    manifest = wiring.open_manifest(s, store_)
    try:
        if collection:
            docs = report.documents(store_, manifest, collection)
        else:
            cols = report.collections(store_, manifest)
    finally:
        manifest.close()
    if collection:
        if as_json:
            console.print_json(json.dumps({"collection": collection, "documents": [asdict(d) for d in docs]}))
        else:
            console.print(documents_table(collection, docs))
    elif as_json:
        console.print_json(json.dumps({"store": store_.location, "collections": [c.as_json() for c in cols]}))
    elif not cols:
        console.print(f"No collections in {store_.location}. Run [bold]rag ingest PATH[/] to create one.")
    else:
        console.print(collections_table(store_.location, cols))
        for c in cols:
            gap = calibration_gap(c.info.embedder, c.info.chunk_tokens)
            if gap:
                console.print(
                    f"[yellow]{c.info.name}[/]: {markup_safe(gap)} (scripts/calibrate_abstention.py)",
                    highlight=False,
                )


@app.command()
@friendly
def doctor(
    store: StoreOpt = None,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Rebuild what is damaged (vector indexes, the manifest, BM25 indexes) from the store.",
        ),
    ] = False,
) -> None:
    """Check the store's files (Chroma, manifest, BM25 indexes); --repair rebuilds what can be rebuilt."""
    from rich.table import Table

    from ingest.lock import CollectionLock
    from ingest.repair import StoreFiles
    from ingest.repair import doctor as run_doctor
    from rag import wiring
    from rag.errors import InputError
    from rag.ui.eval import EvalProgress
    from rag.ui.render import safe

    s = settings(store=store)
    if s.chroma_url:
        raise InputError("rag doctor checks an embedded store; a Chroma server keeps its own files")
    if not s.store_dir.exists():
        raise InputError(f"no store at {s.store_dir}: nothing to check")
    store_ = wiring.open_store(s)
    files = StoreFiles(
        store_,
        wiring.chroma_database(s),
        wiring.state_dir(s) / "manifest.sqlite",
        lambda name: wiring.lexical_dir(s, name),
        lambda collection: wiring.embedder_for_collection(s, collection),
    )
    with ExitStack() as held:
        if repair:  # no ingest may write while vectors, the manifest and indexes are rebuilt
            try:
                names = store_.names()
            except Exception:
                names = []
            for name in names:
                held.enter_context(CollectionLock(wiring.state_dir(s) / "locks", name))
        bar = EvalProgress(err) if sys.stderr.isatty() else None
        with bar or nullcontext():
            findings = run_doctor(files, repair=repair, on_progress=bar.update if bar else None)
    table = Table(title="rag doctor", title_justify="left")
    for col in ("part", "state", "detail"):
        table.add_column(col, overflow="fold")
    colour = {"ok": "green", "repaired": "cyan"}
    for f in findings:
        table.add_row(safe(f.part), f"[{colour.get(f.state, 'red')}]{f.state}[/]", safe(f.detail))
    console.print(table)
    if any(f.state == "damaged" for f in findings):
        raise typer.Exit(1)


def _server_body(collection: str, rerank: bool, *filters: str | None) -> dict[str, object]:
    """A question's options as `rag serve` takes them (source, speaker, since, until, lang)."""
    names = ("source", "speaker", "since", "until", "lang")
    return {"collection": collection, "rerank": rerank, **dict(zip(names, filters, strict=True))}


def _filters(
    source: str | None, speaker: str | None, since: str | None, until: str | None, lang: str | None
) -> Any:
    from rag.retrieve import filters_from

    return filters_from(source, speaker, since, until, lang, flag="--")


@app.command()
@friendly
def ask(
    question: Annotated[str, typer.Argument(help="Your question, in Spanish or English.")],
    collection: CollectionOpt = None,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    chroma_token: TokenOpt = None,
    source: SourceOpt = None,
    speaker: SpeakerOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    lang: LangOpt = None,
    rerank: RerankOpt = True,
    generator: GeneratorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer one question from your documents, with citations."""
    from rag.errors import InputError
    from rag.serve.command import running_server
    from rag.ui.render import answer_json, sources_table, stats_line, stream_answer

    if not question.strip():
        raise InputError("the question is empty")
    s = settings(
        collection=collection,
        store=store,
        chroma_url=chroma_url,
        chroma_token=chroma_token,
        generator=generator,
    )
    remote = running_server(s, generator)
    if remote is not None:  # the server checks the filters, and says what is wrong with one
        body = {"question": question} | _server_body(
            s.collection, rerank, source, speaker, since, until, lang
        )
        if as_json:
            console.print_json(
                json.dumps(remote.post("/api/ask", body | {"stream": False}), ensure_ascii=False)
            )
            return
        err.print(f"[dim]answering through rag serve at {remote.url}[/]", highlight=False)
        run: Callable[[Any, Any], Answer] = lambda on_token, stop: remote.ask(body, on_token, stop)  # noqa: E731
    else:
        from rag import wiring

        filters = _filters(source, speaker, since, until, lang)
        assistant = wiring.assistant(s, s.collection, rerank=rerank, generator=wiring.first_use(s))
        if as_json:
            answer = assistant.ask(question, filters)
            console.print_json(json.dumps(answer_json(answer), ensure_ascii=False))
            return
        run = lambda on_token, stop: assistant.ask(question, filters, None, on_token, stop)  # noqa: E731
    answer = stream_answer(console, run)
    console.print(sources_table(answer))
    err.print(stats_line(answer))


@app.command()
@friendly
def chat(
    collection: CollectionOpt = None,
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    chroma_token: TokenOpt = None,
    session: Annotated[
        str, typer.Option("--session", "-s", help="Session name; resumes it if it exists.")
    ] = "last",
    source: SourceOpt = None,
    speaker: SpeakerOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    lang: LangOpt = None,
    rerank: RerankOpt = True,
    generator: GeneratorOpt = None,
) -> None:
    """Talk to your documents: follow-up questions, sources, saved sessions."""
    from rag.memory import Session
    from rag.serve.command import running_server
    from rag.ui.chat import ChatSession, Conversation, LocalConversation, RemoteConversation

    s = settings(
        collection=collection,
        store=store,
        chroma_url=chroma_url,
        chroma_token=chroma_token,
        generator=generator,
    )
    filters = _filters(source, speaker, since, until, lang)
    remote = running_server(s, generator)
    conversation: Conversation
    if remote is not None:
        err.print(f"[dim]answering through rag serve at {remote.url}[/]", highlight=False)
        body = _server_body(s.collection, rerank, source, speaker, since, until, lang)
        conversation = RemoteConversation(remote, Session.load(s.sessions_dir, session), s.sessions_dir, body)
    else:
        from rag import wiring

        assistant, memory = wiring.chat(
            s, s.collection, session, rerank=rerank, generator=wiring.first_use(s)
        )
        conversation = LocalConversation(assistant, memory, s.sessions_dir, filters)
    ChatSession(conversation, console).run()


@app.command()
@friendly
def serve(
    store: StoreOpt = None,
    chroma_url: UrlOpt = None,
    chroma_token: TokenOpt = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (default 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=0, max=65535, help="Port (default 8765; 0: any free port).")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            help="Require this bearer token; needed for any non-loopback --host.",
            envvar="RAG_SERVE_TOKEN",
        ),
    ] = None,
    preload: Annotated[
        bool, typer.Option("--preload/--lazy", help="Load the models now, not on the first question.")
    ] = True,
) -> None:
    """Keep the models loaded and answer over HTTP (streaming); `rag ask` and `rag chat` use it."""
    from rag.serve.command import serve as run_server

    s = settings(
        store=store,
        chroma_url=chroma_url,
        chroma_token=chroma_token,
        serve_host=host,
        serve_port=port,
        serve_token=token,
    )
    run_server(s, err, preload=preload)


app.command("eval")(eval_)
app.add_typer(models_app, name="models")


def main() -> None:
    quiet_libraries()
    show_status_lines()
    try:
        app()
    finally:
        # Registered last, so it runs first among exit handlers, after worker threads have been joined:
        # Python resets SIGINT to its default late in shutdown, and a Ctrl-C landing there would turn
        # a finished command into a process killed by a signal, with no message.
        atexit.register(signal.signal, signal.SIGINT, signal.SIG_IGN)
