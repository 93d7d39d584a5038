"""Rich rendering for `rag eval`: a progress bar while it runs, then metric tables."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from rag.eval_chat import ChatEvalReport
from rag.evaluate import EvalReport
from rag.ui.render import safe


class EvalProgress:
    def __init__(self, console: Console) -> None:
        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> EvalProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def update(self, phase: str, done: int, total: int) -> None:
        if phase not in self._tasks:
            self._tasks[phase] = self._bar.add_task(phase, total=total)
        self._bar.update(self._tasks[phase], completed=done)


def fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def render_eval(report: EvalReport, console: Console) -> None:
    table = Table(
        title=f"{report.dataset}: {report.documents} documents, {report.chunks} chunks "
        f"(ingest {report.ingest_s:.1f}s)",
        title_justify="left",
    )
    for col in ("stage", "queries", "R@1", "R@5", "R@10", "MRR@10", "nDCG@10", "MAP"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for m in report.stages:
        table.add_row(
            m.stage,
            str(m.queries),
            *(
                f"{v:.3f}"
                for v in (m.recall_at_1, m.recall_at_5, m.recall_at_10, m.mrr_at_10, m.ndcg_at_10, m.map)
            ),
        )
    console.print(table)
    a = report.answers
    if a is None:
        return
    answers = Table(
        title=f"answers: {a.questions} questions ({a.answerable} answerable, {a.unanswerable} not)",
        title_justify="left",
        show_header=False,
    )
    answers.add_column("metric")
    answers.add_column("value", justify="right")
    answers.add_row("gold answer contained", fmt(a.answer_contained))
    answers.add_row("  … in model-written sentences", fmt(a.answer_contained_generated))
    answers.add_row("token F1", fmt(a.token_f1))
    answers.add_row("citation precision", fmt(a.citation_precision))
    answers.add_row("answers with an unsupported number/name", fmt(a.unsupported_facts))
    answers.add_row("answers with a sentence replaced by a quote", fmt(a.replaced))
    answers.add_row("answers with a sentence dropped as unsupported", fmt(a.dropped))
    answers.add_row("answers in the question's language", fmt(a.language_match))
    answers.add_row("refusal precision", fmt(a.refusal_precision))
    answers.add_row("refusal recall", fmt(a.refusal_recall))
    answers.add_row("answerable questions declined", fmt(a.wrong_refusals))
    for stage, p in a.latency.items():
        if p:
            answers.add_row(f"{stage} p50 / p95 (s)", f"{p['p50']:.2f} / {p['p95']:.2f}")
    console.print(answers)
    console.print(f"[dim]{report.seconds:.1f}s in all[/]")


def render_chat_eval(report: ChatEvalReport, console: Console) -> None:
    summary = Table(
        title=f"{report.dataset}: {report.conversations} conversations, {report.turns} turns",
        title_justify="left",
        show_header=False,
    )
    summary.add_column("metric")
    summary.add_column("value", justify="right")
    summary.add_row("follow-ups with a gold source in the top 3", fmt(report.follow_up_top3))
    summary.add_row("later standalone questions searched as typed", fmt(report.standalone_kept))
    summary.add_row("follow-up answers containing a gold answer", fmt(report.follow_up_contained))
    summary.add_row("all answers containing a gold answer", fmt(report.contained))
    summary.add_row("turn kind as the set labels it", fmt(report.kind_agreement))
    for key, value in report.latency.items():
        summary.add_row(key.replace("_", " "), f"{value:.2f}")
    console.print(summary)
    turns = Table(title="turns", title_justify="left")
    for col in ("conv", "#", "kind → resolved", "top 3 gold", "answer ok", "question"):
        turns.add_column(col, overflow="fold")
    mark = {True: "[green]yes[/]", False: "[red]no[/]", None: "-"}
    for r in report.details:
        turns.add_row(
            r.conversation, str(r.turn), f"{r.kind} → {r.resolved}", mark[r.gold_in_top3], mark[r.contained],
            safe(r.question),
        )  # fmt: skip
    console.print(turns)
