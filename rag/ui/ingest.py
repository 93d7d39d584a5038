"""Rich rendering of an ingest: progress bars while it runs, then a summary table and failures."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ingest.pipeline import STATUSES, IngestReport


class RichProgress:
    def __init__(self, console: Console) -> None:
        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._files = self._bar.add_task("files", total=0, rate="")
        self._chunks = self._bar.add_task("chunks embedded", total=None, rate="")

    def __enter__(self) -> RichProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def start(self, files: int) -> None:
        self._bar.update(self._files, total=files)

    def file_done(self, path: str, status: str) -> None:
        self._bar.advance(self._files)

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
                console.print(f"  [cyan]{r.status:8}[/] {r.path}  [dim]{r.reason}[/]")
    for r in report.results:
        if r.status == "failed":
            err.print(f"[red]failed[/]  {r.path}: {r.reason}")
        elif r.warnings:
            for w in r.warnings:
                err.print(f"[yellow]warning[/] {r.path}: {w}")
    skipped = [r for r in report.results if r.status == "skipped"]
    if skipped:
        err.print(
            f"[dim]skipped {len(skipped)} unsupported file(s): "
            + ", ".join(r.path.rsplit("/", 1)[-1] for r in skipped[:8])
            + (" …" if len(skipped) > 8 else "")
            + "[/]"
        )
