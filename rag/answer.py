"""question → (rewrite) → retrieve → rerank → abstain? → context → generate → cite → Answer."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.resources import files

from core.text import question_language
from core.types import Chunk
from rag.citations import AttributionConfig, Embed, attribute
from rag.context import build_passages, label, render_sources
from rag.generate import Generator, OnToken
from rag.memory import Memory, Turn
from rag.prompts import load
from rag.rerank import Reranker, rerank_hits
from rag.retrieve import Filters, Retriever, lexical_coverage
from rag.types import Answer, Hit

LANGUAGE_NAMES = {"en": "English", "es": "Spanish (español)"}
NOT_FOUND = {
    "en": "I could not find this in your documents.",
    "es": "No he encontrado esto en tus documentos.",
}
_REFUSAL = re.compile(
    r"(do(es)? not (contain|mention|say)|don't know|not (found|mentioned|in the sources)|cannot find|"
    r"no (contienen|mencionan|sé|lo sé|aparece)|no se menciona|no encuentro)",
    re.I,
)


@dataclass(frozen=True)
class Abstention:
    """Answer "not in your documents" without calling the generator when the evidence is weak.
    With a reranker: its best score. Without: best dense similarity *and* best lexical coverage."""

    rerank_min: float | None = None
    dense_min: float = 0.35
    lexical_min: float = 0.6

    def decide(self, query: str, hits: list[Hit], reranked: bool) -> tuple[bool, str]:
        if not hits:
            return True, "no passages matched"
        if reranked and self.rerank_min is not None:
            best = max(h.rerank_score or float("-inf") for h in hits)
            return best < self.rerank_min, f"best rerank score {best:.2f} (threshold {self.rerank_min:.2f})"
        dense = max((h.dense_score for h in hits if h.dense_score is not None), default=0.0)
        cover = max((lexical_coverage(query, h.chunk.text) for h in hits[:10]), default=0.0)
        weak = dense < self.dense_min and cover < self.lexical_min
        why = f"best similarity {dense:.2f} (threshold {self.dense_min:.2f}), word coverage {cover:.2f} (threshold {self.lexical_min:.2f})"
        return weak, why


def calibrated_abstention(embedder_name: str, reranker_name: str | None) -> Abstention:
    """Thresholds measured by scripts/calibrate_abstention.py (see rag/calibration.json)."""
    data = json.loads((files("rag") / "calibration.json").read_text(encoding="utf-8"))
    emb = data.get("embedders", {}).get(embedder_name, {})
    rr = data.get("rerankers", {}).get(reranker_name or "", {})
    default = Abstention()
    return Abstention(
        rerank_min=rr.get("rerank_min"),
        dense_min=emb.get("dense_min", default.dense_min),
        lexical_min=emb.get("lexical_min", default.lexical_min),
    )


@dataclass(frozen=True)
class AskOptions:
    candidates: int = 30
    rerank_top: int = 20
    rerank_fusion: bool = True
    top_k: int = 6
    context_tokens: int = 1800
    max_new_tokens: int = 320
    abstention: Abstention = field(default_factory=Abstention)


class Assistant:
    def __init__(
        self,
        retriever: Retriever,
        reranker: Reranker | None,
        generator: Callable[[], Generator],
        embed: Embed,
        options: AskOptions | None = None,
    ) -> None:
        self.retriever = retriever
        self.reranker = reranker
        self._generator_factory = generator
        self._generator: Generator | None = None
        self.embed = embed
        self.options = options or AskOptions()

    @property
    def generator(self) -> Generator:
        if self._generator is None:
            self._generator = self._generator_factory()
        return self._generator

    def search(
        self,
        query: str,
        filters: Filters | None = None,
        extra: list[Chunk] | None = None,
        timings: dict[str, float] | None = None,
    ) -> list[Hit]:
        """All candidates, best first (the reranked head, then the rest); `ask` keeps top_k."""
        timings = timings if timings is not None else {}
        t = time.perf_counter()
        hits = self.retriever.retrieve(query, self.options.candidates, filters, extra or [])
        timings["retrieve"] = time.perf_counter() - t
        if self.reranker is not None and hits:
            t = time.perf_counter()
            hits = rerank_hits(
                self.reranker, query, hits, self.options.rerank_top, fusion=self.options.rerank_fusion
            )
            timings["rerank"] = time.perf_counter() - t
        return hits

    def _follow_up_chunks(self, memory: Memory | None) -> list[Chunk]:
        """What the previous answer cited, plus the chunk right after each ("what did she say next?")."""
        if memory is None:
            return []
        ids: list[str] = []
        for cited in memory.last_cited():
            ids.extend(str(i) for i in cited.get("chunk_ids", []))  # type: ignore[attr-defined]
        chunks = self.retriever.collection.get(ids)
        after = []
        for c in chunks:
            after.extend(
                self.retriever.collection.get_where(
                    {"$and": [{"source": c.source}, {"chunk_index": c.chunk_index + 1}]}
                )
            )
        return chunks + after

    def ask(
        self,
        question: str,
        filters: Filters | None = None,
        memory: Memory | None = None,
        on_token: OnToken | None = None,
        stop: threading.Event | None = None,
    ) -> Answer:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        query = question
        if memory is not None and not memory.empty:
            t = time.perf_counter()
            memory.generator = self.generator
            query = memory.condense(question)
            timings["condense"] = time.perf_counter() - t
        ranked = self.search(query, filters, self._follow_up_chunks(memory), timings)
        hits = ranked[: self.options.top_k]
        # With a reranker, abstention reads every scored candidate: its threshold was calibrated on
        # the best score of the top 20, and fusion can order that one below top_k.
        reranked = self.reranker is not None
        abstain, why = self.options.abstention.decide(query, ranked if reranked else hits, reranked)
        lang = question_language(question)
        if abstain:
            timings["total"] = time.perf_counter() - t0
            answer = Answer(question, query, NOT_FOUND[lang], True, hits=hits, timings=timings)
            answer.model = why
            if memory is not None:
                memory.add(Turn(question, answer.text, query))
            return answer
        t = time.perf_counter()
        generator = self.generator
        timings["load_generator"] = time.perf_counter() - t
        t = time.perf_counter()
        passages = build_passages(
            relevant(hits, self.reranker is not None, self.options.abstention.rerank_min),
            self.retriever.collection,
            generator.count_tokens,
            self.options.context_tokens,
        )
        timings["context"] = time.perf_counter() - t
        history = memory.history_for_prompt() if memory is not None else ""
        messages = [
            {"role": "system", "content": load("system").strip()},
            {
                "role": "user",
                "content": load("answer").format(
                    sources=render_sources(passages),
                    history=history,
                    question=question,
                    language=LANGUAGE_NAMES.get(lang, "the language of the question"),
                ),
            },
        ]
        t = time.perf_counter()
        gen = generator.generate(
            messages, max_new_tokens=self.options.max_new_tokens, on_token=on_token, stop=stop
        )
        timings["generate"] = time.perf_counter() - t
        timings["first_token"] = gen.first_token_s
        t = time.perf_counter()
        says_refusal = bool(_REFUSAL.search(gen.text))
        # A grounded answer cites something: when the model wrote no [n] and no sentence cleared the
        # bar for an added citation (short answers like "The answer is 152." never do), the best-
        # supported passage is accepted at the minimum bar, on the same support scores.
        relaxed = AttributionConfig(add_support=AttributionConfig().min_support, min_words=1)
        text, citations = attribute(
            gen.text, passages, self.embed, fallback=None if says_refusal else relaxed
        )
        refused = not citations and says_refusal
        timings["cite"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - t0
        answer = Answer(
            question,
            query,
            text if text.strip() else NOT_FOUND[lang],
            refused,
            citations,
            passages,
            hits,
            gen.input_tokens,
            gen.output_tokens,
            timings,
            generator.name,
            gen.interrupted,
        )
        if memory is not None:
            memory.add(Turn(question, answer.text, query, cited_for_memory(answer)))
        return answer


def relevant(
    hits: list[Hit], reranked: bool, rerank_min: float | None = None, keep: float = 0.55
) -> list[Hit]:
    """Hits worth showing the generator; small models repeat whatever they are shown. With a
    calibrated reranker: those it scores at or above its threshold. Without: those within reach of
    the best fused score (found by one leg only, low in it, is dropped). The best hit always stays."""
    if not hits:
        return hits
    if reranked:
        if rerank_min is None:
            return hits
        return [h for i, h in enumerate(hits) if i == 0 or (h.rerank_score or 0.0) >= rerank_min]
    best = hits[0].fused
    return [h for h in hits if h.fused >= keep * best]


def cited_for_memory(answer: Answer) -> list[dict[str, object]]:
    """The passages the answer cited, by label, with their chunk ids for the next follow-up."""
    cited = {c.label for c in answer.citations}
    out: list[dict[str, object]] = []
    for p in answer.passages:
        name = label(p.chunks)
        if name in cited:
            out.append({"label": name, "source": p.first.source, "chunk_ids": [c.id for c in p.chunks]})
    return out
