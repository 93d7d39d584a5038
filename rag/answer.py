"""question → (standalone query) → retrieve → rerank → abstain? → context → generate → cite → Answer.

`Assistant.ask` only sequences the steps below and records their timings; each step is a method
short enough to read at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from core.text import Fusion, answer_language, question_language
from core.types import Chunk
from rag.abstain import Abstention, evidence
from rag.chat_answers import located, pinned_passages, said_by, told
from rag.citations import attribute
from rag.concise import asks_for_more_than_a_fact
from rag.context import build_passages, render_sources
from rag.evidence import Embed, best_sentence, cite_quote, support_matrix
from rag.followup import Cited, FollowUp, carried_query, resolve
from rag.generate import Generation, Generator, Message, OnToken
from rag.grounding import REFUSAL
from rag.loops import trim_loop
from rag.markers import MARKER
from rag.memory import Memory, Turn
from rag.named import read
from rag.prompts import answer_templates, load
from rag.rerank import Reranker, rerank_hits
from rag.retrieve import Filters, Retriever
from rag.sentences import sentences_of
from rag.tidy import strip_trailer
from rag.types import Answer, Citation, Hit, Passage

LANGUAGE_NAMES = {"en": "English", "es": "Spanish (español)"}
NOT_FOUND = {
    "en": "I could not find this in your documents.",
    "es": "No he encontrado esto en tus documentos.",
}
ONLY_IN = {"en": "Answer only in English.", "es": "Responde solo en español."}


@dataclass(frozen=True)
class AskOptions:
    """The answering budget. No defaults here: `rag.wiring.ask_options` builds it from Settings,
    the one home of defaults, so tests exercise the values users get."""

    candidates: int  # retrieved by hybrid search
    fusion: Fusion  # how the dense and BM25 legs become one ranking
    rerank_top: int  # of those, scored by the reranker
    rerank_fusion: bool  # order by rank fusion of reranker and retrieval, not reranker score alone
    top_k: int  # passages considered for the context
    context_tokens: int  # generator tokens the passages may fill
    context_keep: float  # without a reranker: share of the best fused score a passage needs
    max_new_tokens: int
    answer_prompt: str  # the prompt style in rag/prompts/
    concise_answers: bool  # a factual question's answer keeps to the passages its first sentence cites
    short_facts: bool  # a factual question is asked for 1-2 sentences, the fact first
    context_neighbours: int  # chunks on each side of a hit added to its passage
    filters_from_question: bool  # a speaker or document the question names filters the search (rag/named.py)
    abstention: Abstention


class Assistant:
    """Answers questions from one collection. The generator is built on first use (never when
    abstaining) by the provider the wiring hands in; a chat's Memory gets the same provider."""

    def __init__(
        self,
        retriever: Retriever,
        reranker: Reranker | None,
        generator: Callable[[], Generator],
        embed: Embed,
        options: AskOptions,
    ) -> None:
        self.retriever = retriever
        self.reranker = reranker
        self._generator = generator
        self.embed = embed
        self.options = options

    @property
    def generator(self) -> Generator:
        return self._generator()

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
        lang = question_language(question)
        follow = self._follow_up(question, memory)
        query = follow.query
        typed = pin(follow.pinned, self.search(query, filters, follow.extra, timings))
        filters, searched, named = self._named_search(query, filters, follow, timings)
        ranked = pin(follow.pinned, named) if named else typed
        hits = ranked[: self.options.top_k]
        # A structural follow-up answers from what the conversation points at, not from a search.
        abstain, why = (False, "") if follow.structural else self._abstain(query, typed, searched, named)
        if abstain:
            answer = Answer(question, query, NOT_FOUND[lang], abstained=True, abstain_reason=why, hits=hits)
        elif follow.structural:
            answer = self._follow_answer(question, lang, follow, hits, on_token, stop, timings)
        else:
            passages = self._context(hits, timings)
            gen = self._generate(question, lang, passages, memory, on_token, stop, timings)
            answer = self._cite(question, query, lang, gen, passages, hits, timings)
        answer.timings = timings | {"total": time.perf_counter() - t0}
        answer.filters = filters.describe() if filters is not None else ""
        if memory is not None:
            answered = not answer.declined
            memory.add(
                Turn(
                    question, answer.text, query, cited_for_memory(answer, self.embed), answered, follow.kind
                )
            )
        return answer

    def _abstain(self, query: str, typed: list[Hit], searched: str, named: list[Hit]) -> tuple[bool, str]:
        """Abstain when the question as typed finds no close passage (the thresholds were fitted
        on such searches), and neither does its reading by what it names, where there is one: a
        speaker's name lifts the typed search (it matches their turns), a document's number
        lowers it."""
        rule, top_k = self.options.abstention, self.options.top_k
        abstain, why = rule.decide(evidence(query, typed, top_k))
        if abstain and named and not rule.decide(evidence(searched, named, top_k))[0]:
            return False, ""
        return abstain, why

    def _named_search(
        self, query: str, filters: Filters | None, follow: FollowUp, timings: dict[str, float]
    ) -> tuple[Filters | None, str, list[Hit]]:
        """A question naming one of the collection's speakers or documents also searches only their
        passages, for the rest of the question (rag/named.py; two speakers named together: the
        rest, everywhere), and those candidates are the answer's; unless the user chose a speaker
        (a source), or nothing passes the user's other filters (then: the filters as given, no
        candidates)."""
        if not self.options.filters_from_question or follow.structural:
            return filters, query, []
        given = filters or Filters()
        named = read(
            query,
            () if given.speaker else self.retriever.speakers,
            {} if given.source else self.retriever.titles,
        )
        if named.speaker is None and named.document is None and named.query == query:
            return filters, query, []
        within = replace(given, speaker=named.speaker or given.speaker, document=named.document)
        spent: dict[str, float] = {}
        found = self.search(named.query, within, follow.extra, spent)
        for stage, seconds in spent.items():  # a second search: its times add to the first's
            timings[stage] = timings.get(stage, 0.0) + seconds
        if not found:
            return filters, query, []
        return (within if within != given else filters), named.query, found

    def _follow_up(self, question: str, memory: Memory | None) -> FollowUp:
        """What the question refers to in the conversation (rag/followup.py); no model call."""
        turns = memory.session.turns if memory is not None else []
        if not turns:
            return FollowUp("standalone", question)
        last = turns[-1]
        cited = [
            Cited(
                str(c.get("anchor", "")),
                [str(i) for i in c.get("chunk_ids", [])],  # type: ignore[attr-defined]
                str(c.get("quote", "")),
                [str(n) for n in c.get("speakers", [])],  # type: ignore[attr-defined]
            )
            for c in last.cited
        ]
        previous = last.query or last.question
        if len(turns) > 1:
            before = turns[-2]
            previous = carried_query(
                previous, _chunk_ids(last), before.query or before.question, _chunk_ids(before)
            )
        return resolve(question, previous, cited, self.retriever.collection)

    def _follow_answer(
        self,
        question: str,
        lang: str,
        follow: FollowUp,
        hits: list[Hit],
        on_token: OnToken | None,
        stop: threading.Event | None,
        timings: dict[str, float],
    ) -> Answer:
        """A follow-up that points at passages (rag/chat_answers.py): the speaker read from them,
        or an answer generated from them alone, without the earlier turns to repeat."""
        count = self.generator.count_tokens
        passages = pinned_passages(hits, count, self.options.context_tokens)
        said = next(
            (a for read in (said_by, told, located) if (a := read(question, follow, lang, passages, hits))),
            None,
        )
        if said is not None:
            if on_token is not None:
                on_token(said.text)
            return said  # no model wrote it: `model` stays empty
        gen = self._generate(question, lang, passages, None, on_token, stop, timings)
        return self._cite(question, follow.query, lang, gen, passages, hits, timings)

    def _context(self, hits: list[Hit], timings: dict[str, float]) -> list[Passage]:
        t = time.perf_counter()
        generator = self.generator  # loaded here, on the first answer that needs it
        timings["load_generator"] = time.perf_counter() - t
        t = time.perf_counter()
        rerank_min = self.options.abstention.rerank_min
        passages = build_passages(
            relevant(hits, self.reranker is not None, rerank_min, keep=self.options.context_keep),
            self.retriever.collection,
            generator.count_tokens,
            self.options.context_tokens,
            radius=self.options.context_neighbours,
        )
        timings["context"] = time.perf_counter() - t
        return passages

    def _generate(
        self,
        question: str,
        lang: str,
        passages: list[Passage],
        memory: Memory | None,
        on_token: OnToken | None,
        stop: threading.Event | None,
        timings: dict[str, float],
    ) -> Generation:
        history = memory.history_for_prompt() if memory is not None else ""
        messages = answer_messages(
            question,
            lang,
            passages,
            history,
            self.options.answer_prompt,
            short_facts=self.options.short_facts,
        )
        t = time.perf_counter()
        gen = self._generated(messages, on_token, stop)
        if not gen.interrupted and wrong_language(gen.text, lang):
            # Once more, told again in the question's language; the streamed draft is replaced.
            retry = [
                *messages[:-1],
                {**messages[-1], "content": messages[-1]["content"] + "\n\n" + ONLY_IN[lang]},
            ]
            gen = self._generated(retry, None, stop)
            timings["language_retry"] = 1.0
        timings["generate"] = time.perf_counter() - t
        timings["first_token"] = gen.first_token_s
        return gen

    def _generated(
        self, messages: list[Message], on_token: OnToken | None, stop: threading.Event | None
    ) -> Generation:
        """One generation, a repetition loop at its end cut (rag.loops)."""
        gen = self.generator.generate(
            messages, max_new_tokens=self.options.max_new_tokens, on_token=on_token, stop=stop
        )
        return replace(gen, text=trim_loop(gen.text))

    def _cite(
        self,
        question: str,
        query: str,
        lang: str,
        gen: Generation,
        passages: list[Passage],
        hits: list[Hit],
        timings: dict[str, float],
    ) -> Answer:
        t = time.perf_counter()
        first = sentences_of(strip_trailer(gen.text), quotes=True)[:1]
        # Read in the first sentence only: a later "the sources do not say more" after an answer
        # is not a refusal.
        refused = bool(first and REFUSAL.search(first[0]))
        citations: list[Citation] = []
        replaced: list[str] = []
        dropped: list[str] = []
        if refused:  # nothing to cite: the model says the sources do not answer
            text = MARKER.sub("", gen.text).strip()
        else:
            text, citations, replaced, dropped = attribute(
                gen.text,
                passages,
                self.embed,
                question=question,
                lang=lang,
                concise=self.options.concise_answers,
            )
        timings["cite"] = time.perf_counter() - t
        return Answer(
            question,
            query,
            text if text.strip() else NOT_FOUND[lang],
            abstained=False,
            refused=refused,
            citations=citations,
            passages=passages,
            hits=hits,
            input_tokens=gen.input_tokens,
            output_tokens=gen.output_tokens,
            model=self.generator.name,
            interrupted=gen.interrupted,
            replaced_facts=replaced,
            dropped_sentences=dropped,
        )


def wrong_language(text: str, lang: str) -> bool:
    """The answer's own words (not what it quotes) are confidently in another language than the
    question's."""
    seen = answer_language(text)
    return lang in ONLY_IN and seen is not None and seen != lang


def answer_messages(
    question: str, lang: str, passages: list[Passage], history: str, style: str, *, short_facts: bool = False
) -> list[Message]:
    """The chat messages for one answer; the wording lives in rag/prompts/ (`style`). With
    `short_facts`, a question that asks for one fact is told to answer briefly (`{length}`)."""
    system, user = answer_templates(style, lang)
    factual = short_facts and not asks_for_more_than_a_fact(question)
    content = user.format(
        sources=render_sources(passages),
        history=history,
        question=question,
        language=LANGUAGE_NAMES.get(lang, "the language of the question"),
        length=load("length-fact" if factual else "length-explanation").strip(),
    )
    return [{"role": "system", "content": system.strip()}, {"role": "user", "content": content}]


def relevant(hits: list[Hit], reranked: bool, rerank_min: float | None = None, *, keep: float) -> list[Hit]:
    """Hits worth showing the generator; small models repeat whatever they are shown. With a
    calibrated reranker: those it scores at or above its threshold. Without: those within reach of
    the best fused score (found by one leg only, low in it, is dropped). The best hit always stays."""
    if not hits:
        return hits
    if reranked:
        if rerank_min is None:
            return hits
        return [h for i, h in enumerate(hits) if i == 0 or h.pinned or (h.rerank_score or 0.0) >= rerank_min]
    best = max((h.fused for h in hits if not h.pinned), default=0.0)
    return [h for h in hits if h.pinned or h.fused >= keep * best]


def pin(chunks: list[Chunk], ranked: list[Hit]) -> list[Hit]:
    """`chunks` first (what a follow-up points at), then the search results without them."""
    if not chunks:
        return ranked
    ids = {c.id for c in chunks}
    return [Hit(c, pinned=True) for c in chunks] + [h for h in ranked if h.chunk.id not in ids]


def _chunk_ids(turn: Turn) -> set[str]:
    return {str(i) for c in turn.cited for i in c.get("chunk_ids", [])}  # type: ignore[attr-defined]


def cited_for_memory(answer: Answer, embed: Embed) -> list[dict[str, object]]:
    """The passages the answer cited, with their citation labels and chunk ids, for a follow-up.
    An answer given without a citation still came from its passages: the one whose sentence
    supports the answer best, with that sentence as its quote."""
    out: list[dict[str, object]] = []
    for c in answer.citations:
        p = next((p for p in answer.passages if p.text == c.text and p.first.source == c.source), None)
        if p is not None:
            out.append(_remembered(p, c.label, c.quote, c.speakers))
    if not out and not answer.declined and answer.passages:
        quotes = [best_sentence(answer.text, p, embed) for p in answer.passages]
        best = int(np.argmax(support_matrix([answer.text], quotes, embed)[0]))
        p, quote = answer.passages[best], quotes[best]
        cited = cite_quote(1, p, quote, 0.0)
        out.append(_remembered(p, cited.label, quote, cited.speakers))
    return out


def _remembered(p: Passage, label: str, quote: str, speakers: list[str]) -> dict[str, object]:
    return {
        "label": label,
        "source": p.first.source,
        "chunk_ids": [ch.id for ch in p.chunks],
        "anchor": p.hit.chunk.id,  # the retrieved chunk
        "quote": quote,  # "who said that", "after that" start from this sentence
        "speakers": speakers,
    }
