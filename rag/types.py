"""Typed results of the answering side: Hit → Passage → Citation → Answer."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.types import Chunk


@dataclass
class Hit:
    chunk: Chunk
    fused: float = 0.0
    dense_rank: int | None = None
    dense_score: float | None = None
    lexical_rank: int | None = None
    lexical_score: float | None = None
    rerank_score: float | None = None

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
    text: str


@dataclass
class Answer:
    question: str
    query: str  # the standalone query used for retrieval (after follow-up rewriting)
    text: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    model: str = ""
    interrupted: bool = False
