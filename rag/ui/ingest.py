"""Rich rendering of an ingest: progress bars while it runs, then a summary table and failures."""

from __future__ import annotations

import os
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from ingest.pipeline import STATUSES, IngestReport
from ingest.status import CollectionRow, DocumentRow
from rag.ui.render import markup_safe


def estimated_total(queued: int, bytes_read: int, total_bytes: int) -> int | None:
    """Chunks the whole run will embed, extrapolated from the bytes read so far (files are read
    ahead of embedding, so this settles early); None until something has been read."""
    if bytes_read <= 0 or queued <= 0:
        return None if bytes_read < total_bytes else queued
    if bytes_read >= total_bytes:
        return queued
    return max(queued, round(queued * total_bytes / bytes_read))


class RichProgress:
    """Two bars: files read (with the file being read now and, for media, its position) and
    chunks embedded (with a total estimated from bytes read, hence a rate and an ETA)."""

    def __init__(self, console: Console) -> None:
        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("[dim]{task.fields[current]}"),
            console=console,
            transient=True,
        )
        self._files = self._bar.add_task("files read", total=0, rate="", current="")
        self._chunks = self._bar.add_task("chunks embedded", total=None, rate="", current="")
        self._total_bytes = 0
        self._bytes_read = 0
        self._queued = 0

    def __enter__(self) -> RichProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def start(self, files: int, total_bytes: int) -> None:
        self._total_bytes = total_bytes
        self._bar.update(self._files, total=files)

    def reading(self, path: str, detail: str = "") -> None:
        # Escaped: a file name is user data, not Rich markup.
        shown = escape_name(path) + (f"  {escape(detail)}" if detail else "")
        self._bar.update(self._files, current=shown)

    def file_done(self, path: str, status: str, size: int = 0, chunks: int = 0) -> None:
        self._bytes_read += size
        self._queued += chunks
        self._bar.update(self._files, advance=1)
        total = estimated_total(self._queued, self._bytes_read, self._total_bytes)
        if total is not None:
            self._bar.update(self._chunks, total=total)

    def embedded(self, chunks: int) -> None:
        self._bar.advance(self._chunks, chunks)
        task = self._bar.tasks[self._chunks]
        if task.elapsed:
            self._bar.update(self._chunks, rate=f"{task.completed / task.elapsed:.0f} chunks/s")


def render_report(report: IngestReport, console: Console, err: Console) -> None:
    title = f"{'Plan (dry run)' if report.dry_run else 'Ingested'}: {report.root} → collection {report.collection!r}"
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what")
    table.add_column("files", justify="right")
    for status in STATUSES:
        n = report.count(status)
        style = "red" if status == "failed" and n else ""
        table.add_row(status, f"[{style}]{n}[/]" if style else str(n))
    if not report.dry_run:
        table.add_row("chunks in collection", str(report.collection_chunks))
        rate = report.chunks_embedded / report.embed_seconds if report.embed_seconds else 0.0
        table.add_row(
            "chunks embedded", f"{report.chunks_embedded} ({rate:.0f}/s)" if report.chunks_embedded else "0"
        )
    table.add_row("seconds", f"{report.seconds:.1f}")
    console.print(table)
    if report.dry_run:
        for r in report.results:
            if r.status in ("added", "updated", "removed"):
                console.print(
                    f"  [cyan]{r.status:8}[/] {markup_safe(r.path)}  [dim]{markup_safe(r.reason)}[/]"
                )
    for r in report.results:
        if r.status == "failed":
            err.print(f"[red]failed[/]  {markup_safe(r.path)}: {markup_safe(r.reason)}")
        elif r.warnings:
            for w in r.warnings:
                err.print(f"[yellow]warning[/] {markup_safe(r.path)}: {markup_safe(w)}")
    skipped = [r for r in report.results if r.status == "skipped"]
    if skipped:
        err.print(
            f"[dim]skipped {len(skipped)} unsupported file(s): "
            + ", ".join(markup_safe(r.path.rsplit("/", 1)[-1]) for r in skipped[:8])
            + (" …" if len(skipped) > 8 else "")
            + "[/]"
        )


def documents_table(collection: str, docs: Sequence[DocumentRow]) -> Table:
    chunks = sum(d.chunks for d in docs)
    common = os.path.commonpath([d.source for d in docs]) if len(docs) > 1 else ""
    table = Table(title=f"collection {collection!r}: {len(docs)} documents, {chunks} chunks\n{common}")
    table.add_column("document", overflow="fold")
    table.add_column("chunks", justify="right")
    table.add_column("ingested")
    for d in docs:
        shown = os.path.relpath(d.source, common) if common else d.source
        table.add_row(Text(shown), str(d.chunks), d.ingested_at or "?")
    return table


def collections_table(location: str, cols: Sequence[CollectionRow]) -> Table:
    table = Table(title=f"store: {location}")
    numbers = ("documents", "chunks", "chunk tokens")
    for name in ("collection", *numbers, "embedder", "last ingest"):
        table.add_column(name, justify="right" if name in numbers else "left")
    for c in cols:
        i = c.info
        size = str(i.chunk_tokens) if i.chunk_tokens else "-"
        table.add_row(i.name, str(c.documents), str(i.chunks), size, i.embedder, i.last_ingest or "-")
    return table


def escape_name(path: str) -> str:
    name = "".join(ch for ch in os.path.basename(path) if ch.isprintable())
    return escape(name[:60])
