"""Terminal rendering shared by `rag ask` and `rag chat`: streaming, sources, token counts, JSON."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.style import Style
from rich.table import Table
from rich.text import Text

from rag.models import Resolution
from rag.types import Answer, Citation, Hit

# Whole terminal escape sequences first (OSC 8 hyperlinks, titles, CSI colours), so no payload such
# as a hidden URL is left behind; then any other control character.
_ESCAPES = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_controls(text: str) -> str:
    return _CONTROL.sub("", _ESCAPES.sub("", text))


def safe(text: str, style: str = "") -> Text:
    """Document (or model) text for display: control codes stripped (no terminal escapes from a
    file) and held as Text, so brackets in it are never read as Rich markup."""
    return Text(strip_controls(text), style=style)


def markup_safe(text: str) -> str:
    """User data (a file name, a reason quoting one) inside a Rich markup string: control codes
    stripped, brackets escaped, so "[draft]" stays text and "[bold red]" is not a style."""
    return escape(strip_controls(text))


def stream_answer(
    console: Console, run: Callable[[Callable[[str], None], threading.Event], Answer]
) -> Answer:
    """Show tokens as they arrive, then replace them with the final answer (citations corrected)."""
    stop = threading.Event()
    buffer = Text()
    if not console.is_terminal:
        pieces: list[str] = []
        answer = run(pieces.append, stop)
        console.print(safe(answer.text))
        return answer
    with Live(buffer, console=console, refresh_per_second=12, transient=True) as live:

        def on_token(piece: str) -> None:
            buffer.append(safe(piece))
            live.update(buffer)

        answer = run(on_token, stop)
    console.print(safe(answer.text))
    return answer


def sources_table(answer: Answer) -> Table:
    """The cited sources, each with the sentence that supports the answer (its evidence)."""
    table = Table(title="sources", show_edge=False, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("where", overflow="fold", ratio=2)
    table.add_column("evidence", overflow="fold", ratio=3)
    table.add_column("score", justify="right")
    if answer.citations:
        for c in answer.citations:
            quote = c.quote if len(c.quote) <= 240 else c.quote[:239] + "…"
            score = "—" if c.pinned else f"{c.score:.2f}"  # a follow-up's source was not searched
            table.add_row(str(c.number), where(c), safe(f"«{quote}»" if quote else ""), score)
    else:
        from rag.context import label

        for i, hit in enumerate(answer.hits[:5], start=1):
            table.add_row(f"({i})", safe(label([hit.chunk])), "", f"{hit.score:.2f}")
    return table


def where(c: Citation) -> Text:
    """The citation's label; with a link, a "▶ play" a terminal opens at the cited time."""
    text = safe(c.label)
    link = strip_controls(c.link)
    if link:
        text.append("  ")
        text.append("▶ play", style=Style(link=link, color="cyan"))
    return text


def stats_line(answer: Answer) -> str:
    t = answer.timings
    if answer.abstained:
        within = f" within {markup_safe(answer.filters)}" if answer.filters else ""
        return (
            f"[dim]searched: {escape(repr(answer.query))}{within} — {answer.abstain_reason}; "
            f"{t.get('total', 0):.2f}s[/]"
        )
    if not answer.model:  # a chat follow-up read from the talk (rag/chat_answers.py)
        return f"[dim]read from the cited talk, no model call; {t.get('total', 0):.2f}s[/]"
    speed = answer.output_tokens / t["generate"] if t.get("generate") else 0.0
    # Filters may come from the question itself (a speaker it names), so they are always shown.
    within = f"searched within {markup_safe(answer.filters)}; " if answer.filters else ""
    return (
        f"[dim]{within}{answer.input_tokens} input tokens, {answer.output_tokens} output tokens, "
        f"{t.get('total', 0):.1f}s total (first token {t.get('first_token', 0):.1f}s, {speed:.1f} tok/s)[/]"
    )


def answer_json(answer: Answer, full_text: bool = False) -> dict[str, Any]:
    """The answer as `--json` prints it; `full_text` keeps whole passages (the server's clients
    show them with /show)."""
    return {
        "question": answer.question,
        "query": answer.query,
        "answer": answer.text,
        "abstained": answer.abstained,
        "abstain_reason": answer.abstain_reason,
        "filters": answer.filters,
        "refused": answer.refused,
        "replaced_facts": answer.replaced_facts,
        "dropped_sentences": answer.dropped_sentences,
        "interrupted": answer.interrupted,
        "model": answer.model,
        "citations": [asdict(c) | ({} if full_text else {"text": c.text[:600]}) for c in answer.citations],
        "tokens": {"input": answer.input_tokens, "output": answer.output_tokens},
        "timings": {k: round(v, 4) for k, v in answer.timings.items()},
        "hits": [hit_json(h) for h in answer.hits],
    }


def hit_json(hit: Hit, with_text: bool = False) -> dict[str, Any]:
    """A retrieved chunk: where it is (enough to label and link it) and its scores."""
    from rag.context import label, play_link

    c = hit.chunk
    out: dict[str, Any] = {
        "id": c.id,
        "source": c.source,
        "chunk_index": c.chunk_index,
        "label": label([c]),
        "title": c.title,
        "kind": c.kind,
        "start_s": c.start_s,
        "end_s": c.end_s,
        "page_start": c.page_start,
        "page_end": c.page_end,
        "speakers": list(c.speakers),
        "date": c.date,
        "language": c.language,
        "link": play_link(c.url, c.start_s),
        "fused": hit.fused,
        "dense": hit.dense_score,
        "lexical": hit.lexical_score,
        "rerank": hit.rerank_score,
    }
    if with_text:
        out["text"] = c.text
    return out


_STATUS = {
    "ready": "[green]ready[/]",
    "convert": "[yellow]will convert on first use[/]",
    "pull": "[yellow]will pull on first use[/]",
    "missing": "[red]missing[/]",
}


def models_table(rows: list[Resolution], *, reranker_off: bool) -> Table:
    table = Table(title="models")
    for c in ("role", "spec", "source", "status", "size", "location / note"):
        table.add_column(c, overflow="fold")
    for r in rows:
        size = f"{r.size_bytes / 2**20:,.0f} MB" if r.size_bytes else "-"
        note = r.location if r.status == "ready" and r.kind != "backend" else r.detail
        if r.status == "ready" and "licence:" in r.detail:
            note = f"{r.location} ({r.detail[r.detail.index('licence:') :]})"
        table.add_row(r.role, safe(r.spec), r.kind, _STATUS[r.status], size, safe(note))
    if reranker_off:
        table.add_row(
            "reranker",
            "(none)",
            "-",
            "[dim]off[/]",
            "-",
            "no reranker (the default); RAG_RERANKER=rag-reranker-minilm-l6 for the built-in one, or name a cross-encoder",
        )
    return table


@contextmanager
def pull_progress(console: Console) -> Iterator[Callable[[str, int, int], None]]:
    """A bar for `rag models pull`: pieces done, the piece being fetched, elapsed and ETA."""
    bar = Progress(
        TextColumn("[bold]pulling"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("[dim]{task.fields[current]}"),
        console=console,
        transient=True,
    )
    task = bar.add_task("pull", total=None, current="")

    def on_progress(what: str, done: int, total: int) -> None:
        bar.update(task, completed=done, total=total, current=escape(what))

    with bar:
        yield on_progress
