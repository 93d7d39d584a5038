"""Typed results of the answering side: Hit → Passage → Citation → Answer."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.types import Chunk


@dataclass
class Hit:
    """A retrieved chunk with every score it collected. `fused` is the hybrid score of the dense and
    BM25 legs (`core.text.Fusion`: a blend of each leg's normalised scores, or reciprocal-rank
    fusion; either way not a similarity); `dense_score` is cosine similarity; `rerank_score` is the
    cross-encoder's, when one ran."""

    chunk: Chunk
    fused: float = 0.0
    dense_rank: int | None = None
    dense_score: float | None = None
    lexical_rank: int | None = None
    lexical_score: float | None = None
    rerank_score: float | None = None
    pinned: bool = False  # put first by a chat follow-up (its talk, speaker or neighbours), not found

    @property
    def score(self) -> float:
        return self.rerank_score if self.rerank_score is not None else self.fused


@dataclass
class Passage:
    """A numbered source shown to the generator: a hit, possibly merged with neighbouring chunks."""

    number: int
    hit: Hit
    chunks: list[Chunk]
    text: str

    @property
    def first(self) -> Chunk:
        return self.chunks[0]

    @property
    def last(self) -> Chunk:
        return self.chunks[-1]


@dataclass
class Citation:
    """One numbered source of an answer: where it is (label, pages or times) and how well it fits."""

    number: int
    label: str
    source: str
    title: str
    page_start: int | None
    page_end: int | None
    start_s: float | None
    end_s: float | None
    speakers: list[str]
    score: float
    support: float  # similarity between the cited answer sentences and this passage
    text: str  # the whole passage the generator saw
    quote: str = ""  # the passage sentence that supports the answer; label and times point at it
    link: str = ""  # plays the talk at the cited time (its url or recording + a time), when it has one
    pinned: bool = False  # what the conversation pointed at, not searched: `score` means nothing


@dataclass
class Answer:
    """What `Assistant.ask` returns. `abstained`: the evidence was too weak, the generator never ran
    (`abstain_reason` says why). `refused`: the generator ran and said the sources do not answer."""

    question: str
    query: str  # the standalone query used for retrieval (after follow-up rewriting)
    text: str
    abstained: bool = False
    abstain_reason: str = ""
    filters: str = ""  # the active filters in words ("speaker Ana, since 2024"), empty when none
    refused: bool = False
    citations: list[Citation] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    model: str = ""  # the generator's name; empty when it did not run
    # Numbers or names the model stated that no passage holds; their sentences were replaced by a quote.
    replaced_facts: list[str] = field(default_factory=list)
    # Sentences dropped because the passages hold too few of their words (rag.grounding), or
    # because they do not state the count, year or percentage asked for (rag.asked).
    dropped_sentences: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def declined(self) -> bool:
        """No answer was given: abstained before generating, or the model refused."""
        return self.abstained or self.refused
