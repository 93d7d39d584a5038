"""`rag eval`: retrieval and answer metrics on a data set, or the chat path on a multi-turn set."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from rag.cli_common import GeneratorOpt, JsonOpt, RerankOpt, console, err, friendly, settings

if TYPE_CHECKING:
    from core.embedder import Embedder
    from ingest.chunking import ChunkConfig
    from rag.answer import AskOptions
    from rag.generate import Generator
    from rag.rerank import Reranker


@friendly
def eval_(
    dataset: Annotated[
        Path, typer.Argument(help="QA JSONL, SQuAD JSON, or a BEIR / Cranfield / CLAP NQ folder.")
    ],
    fmt: Annotated[
        str, typer.Option("--format", help="auto, squad, beir, cranfield, clapnq or jsonl.")
    ] = "auto",
    corpus: Annotated[
        Path | None, typer.Option("--corpus", help="Folder of documents for a JSONL file with gold_sources.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Evaluate the first N questions.")
    ] = None,
    generate: Annotated[
        bool,
        typer.Option("--generate/--no-generate", help="Also generate answers (slow); off = retrieval only."),
    ] = True,
    rerank: RerankOpt = True,
    generator: GeneratorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Measure retrieval (dense, hybrid, reranked) and answers on a data set, in a throw-away collection."""
    from rag import eval_data

    s = settings(generator=generator)
    if eval_data.is_conversations(dataset):
        return _eval_conversations(s, dataset, corpus, limit, generate, rerank, as_json)
    from rag.evaluate import run_eval
    from rag.ui.eval import render_eval

    evalset = eval_data.load(dataset, fmt, corpus).limit(limit)
    if not evalset.queries:
        from rag.errors import InputError

        raise InputError(f"{dataset}: no questions to evaluate")
    embedder, chunk, reranker, factory, options = _backends(s, rerank, generate)
    _report_eval(
        as_json,
        lambda on_progress: run_eval(
            evalset, embedder, chunk, reranker, factory, options, corpus, on_progress
        ),
        render_eval,
    )


def _backends(
    s: Any, rerank: bool, generate: bool
) -> tuple[Embedder, ChunkConfig, Reranker | None, Callable[[], Generator] | None, AskOptions]:
    """What both kinds of evaluation run on: embedder, chunking, reranker, generator, answer options."""
    from rag import wiring

    embedder = wiring.embedder_for_ingest(s)
    chunk = wiring.chunk_config(s, embedder)
    reranker = wiring.reranker(s) if rerank else None
    options = wiring.ask_options(s, embedder.name, reranker, chunk.size)
    factory = wiring.generator_provider(s) if generate else None
    return embedder, chunk, reranker, factory, options


def _report_eval(as_json: bool, run: Callable[[Any], Any], render: Callable[[Any, Console], None]) -> None:
    """Run an evaluation under a progress bar (on a terminal), then print it as JSON or tables."""
    from rag.ui.eval import EvalProgress

    progress = EvalProgress(err) if not as_json and sys.stderr.isatty() else None
    with progress if progress is not None else ExitStack():
        report = run(progress.update if progress is not None else None)
    if as_json:
        console.print_json(json.dumps(report.to_dict()))
    else:
        render(report, console)


def _eval_conversations(
    s: Any, dataset: Path, corpus: Path | None, limit: int | None, generate: bool, rerank: bool, as_json: bool
) -> None:
    """`rag eval` on a multi-turn JSONL set: every turn through the chat path (rag/eval_chat.py)."""
    from rag import eval_data
    from rag.errors import InputError
    from rag.eval_chat import run_conversations
    from rag.ui.eval import render_chat_eval

    if corpus is None or not corpus.is_dir():
        raise InputError(f"{dataset} is a conversation set: pass --corpus FOLDER with the documents it cites")
    conversations = eval_data.load_conversations(dataset)[:limit]
    embedder, chunk, reranker, factory, options = _backends(s, rerank, generate)
    _report_eval(
        as_json,
        lambda on_progress: run_conversations(
            dataset.stem, conversations, corpus, embedder, chunk, reranker, factory, options, on_progress
        ),
        render_chat_eval,
    )
