"""`rag eval` on multi-turn sets: each conversation is asked turn by turn through the chat path
(`Assistant.ask` with a Memory), over a throw-away collection of the corpus, and every turn is
scored: is a gold source among the first three passages, does the answer contain a gold answer,
was a standalone question searched as typed, how long did it take."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.embedder import Embedder
from ingest.chunking import ChunkConfig
from rag.answer import AskOptions, Assistant
from rag.eval_answers import generated_text
from rag.eval_data import Conversation, EvalSet
from rag.evaluate import OnProgress, throwaway_collection
from rag.generate import Generator, ScriptedGenerator
from rag.memory import Memory, Session
from rag.metrics import contains_answer
from rag.rerank import Reranker
from rag.types import Answer


@dataclass
class TurnResult:
    conversation: str
    turn: int
    kind: str  # what the set says the turn is
    resolved: str  # what the chat path decided it is
    question: str
    query: str
    top3: list[str]
    gold_in_top3: bool | None
    contained: bool | None  # None: no gold answers, or retrieval only
    declined: bool
    answer: str
    seconds: float


@dataclass
class ChatEvalReport:
    dataset: str
    conversations: int
    turns: int
    follow_up_top3: float | None  # follow-up turns with a gold source in the first three passages
    standalone_kept: float | None  # later standalone turns searched exactly as typed
    follow_up_contained: float | None  # follow-up answers containing a gold answer
    contained: float | None  # every turn's answer
    kind_agreement: float | None  # resolver's kind = the set's kind
    latency: dict[str, float] = field(default_factory=dict)  # p50 seconds: first turns, follow-ups
    details: list[TurnResult] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _share(flags: list[bool | None]) -> float | None:
    known = [f for f in flags if f is not None]
    return round(sum(known) / len(known), 4) if known else None


def _score(conv: str, n: int, turn_kind: str, gold: dict[str, float], answers: list[str], answer: Answer,
           resolved: str, generated: bool, seconds: float) -> TurnResult:  # fmt: skip
    top3 = list(dict.fromkeys(Path(h.chunk.source).name for h in answer.hits))[:3]
    contained = None
    if generated and answers:
        contained = not answer.declined and contains_answer(generated_text(answer), answers)
    return TurnResult(
        conv, n, turn_kind, resolved, answer.question, answer.query, top3,
        bool(set(top3) & set(gold)) if gold else None, contained, answer.declined, answer.text, round(seconds, 2),
    )  # fmt: skip


def run_conversations(
    name: str,
    conversations: list[Conversation],
    corpus: Path,
    embedder: Embedder,
    chunk: ChunkConfig,
    reranker: Reranker | None,
    generator: Callable[[], Generator] | None,
    options: AskOptions,
    on_progress: OnProgress | None = None,
) -> ChatEvalReport:
    """Without a generator, a scripted one cites the first passage: follow-ups still resolve
    (retrieval is measured), answers are not."""
    scripted = ScriptedGenerator()
    provider: Callable[[], Generator] = generator or (lambda: scripted)
    with throwaway_collection(EvalSet(name, [], []), embedder, chunk, corpus, options.fusion) as (
        retriever,
        _,
        _,
    ):
        assistant = Assistant(retriever, reranker, provider, embedder.embed, options)
        results = ask_conversations(assistant, conversations, generator is not None, on_progress)
    return summarize(name, len(conversations), results)


def ask_conversations(
    assistant: Assistant,
    conversations: list[Conversation],
    generated: bool,
    on_progress: OnProgress | None = None,
) -> list[TurnResult]:
    """Every turn through `assistant.ask` with the conversation's memory, scored."""
    results: list[TurnResult] = []
    total = sum(len(c.turns) for c in conversations)
    for conv in conversations:
        memory = Memory(Session(conv.id), None, window=len(conv.turns))
        for n, turn in enumerate(conv.turns):
            answer = assistant.ask(turn.question, memory=memory)
            resolved = memory.session.turns[-1].kind
            seconds = answer.timings.get("total", 0.0)
            results.append(
                _score(conv.id, n, turn.kind, turn.gold, turn.answers, answer, resolved, generated, seconds)
            )
            if on_progress:
                on_progress("turns", len(results), total)
    return results


def summarize(name: str, conversations: int, results: list[TurnResult]) -> ChatEvalReport:
    follow = [r for r in results if r.turn > 0 and r.kind != "standalone"]
    later_standalone = [r for r in results if r.turn > 0 and r.kind == "standalone"]
    first = [r.seconds for r in results if r.turn == 0]
    rest = [r.seconds for r in follow]
    return ChatEvalReport(
        name,
        conversations,
        len(results),
        _share([r.gold_in_top3 for r in follow]),
        _share([r.query == r.question for r in later_standalone]),
        _share([r.contained for r in follow]),
        _share([r.contained for r in results]),
        _share([r.resolved == r.kind for r in results if r.turn > 0]),
        {
            "first_turn_p50_s": round(statistics.median(first), 2) if first else 0.0,
            "follow_up_p50_s": round(statistics.median(rest), 2) if rest else 0.0,
        },
        results,
    )
