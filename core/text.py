"""Text rules shared by indexing and answering, each written once: accent folding, the BM25
tokenizer and its stopwords, the es/en language guess, clock timestamps, and the fusion of rankings
(by score or by reciprocal rank)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

_WORD = re.compile(r"\w+", re.UNICODE)
# English and Spanish function words, written folded (they are compared with folded words); content
# words (names, numbers, terms) are what BM25 is for.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "he",
        "her",
        "his",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "she",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "will",
        "with",
        "you",
        "your",
        "do",
        "does",
        "did",
        "not",
        "no",
        "can",
        "could",
        "would",
        "should",
        "about",
        "how",
        "why",
        "el",
        "la",
        "los",
        "las",
        "lo",
        "un",
        "una",
        "unos",
        "unas",
        "de",
        "del",
        "al",
        "y",
        "o",
        "u",
        "e",
        "en",
        "es",
        "son",
        "ser",
        "que",
        "se",
        "por",
        "para",
        "con",
        "sin",
        "sobre",
        "su",
        "sus",
        "mi",
        "mis",
        "tu",
        "tus",
        "le",
        "les",
        "me",
        "te",
        "nos",
        "como",
        "mas",
        "pero",
        "si",
        "ya",
        "muy",
        "tambien",
        "este",
        "esta",
        "estos",
        "estas",
        "ese",
        "esa",
        "eso",
        "esto",
        "hay",
        "fue",
        "han",
        "ha",
        "cual",
        "cuales",
        "cuando",
        "donde",
        "quien",
        "quienes",
        "cuanto",
        "cuanta",
        "cuantos",
        "cuantas",
        "era",
        "eran",
        "fueron",
        "sido",
        "estan",
        "tiene",
        "tienen",
    ]
)


def fold(text: str) -> str:
    """Lower-case and strip accents, so 'región' matches 'region' typed without them."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokenize(text: str) -> list[str]:
    return [w for w in _WORD.findall(fold(text)) if w not in STOPWORDS]


_ES = {
    "el",
    "la",
    "los",
    "las",
    "de",
    "que",
    "y",
    "en",
    "un",
    "una",
    "es",
    "por",
    "para",
    "con",
    "del",
    "se",
    "no",
    "lo",
    "como",
    "más",
}
_EN = {
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "it",
    "for",
    "on",
    "with",
    "as",
    "this",
    "are",
    "be",
    "was",
    "you",
    "we",
    "not",
    "or",
}


def guess_language(text: str) -> str | None:
    """A cheap es/en guess by function-word counts; enough to filter a bilingual course archive."""
    words = [w.strip(".,;:!?¿¡()\"'").lower() for w in text[:20000].split()]
    es = sum(w in _ES for w in words)
    en = sum(w in _EN for w in words)
    # Five function words decide; a short sentence decides with three if none is the other
    # language's ("Algunos elementos de la Hermandad dirigieron la violencia ..." is Spanish).
    if es + en < 5 and (es + en < 3 or min(es, en) > 0):
        return None
    return "es" if es > en else "en"


# Question words and accents mark a short Spanish question that has too few function words to guess.
_ES_HINTS = re.compile(
    r"[¿¡ñáéíóú]|\b(qué|cómo|cuál|cuáles|cuándo|dónde|quién|por qué|para|los|las|del|una)\b", re.I
)


# Text the answer quotes ("…", “…”, «…»): a Spanish answer may quote its English source word for word.
_QUOTED = re.compile(r'"[^"\n]*"|“[^”]*”|«[^»]*»')


def own_words(text: str) -> str:
    """An answer's text without what it quotes."""
    return _QUOTED.sub(" ", text)


def answer_language(text: str) -> str | None:
    """The language of an answer's own words, not of what it quotes, when they decide it."""
    return guess_language(own_words(text)) or guess_language(text)


def question_language(question: str) -> str:
    """The language to answer in: the function-word guess, else Spanish hints, else English."""
    guess = guess_language(question)
    if guess:
        return guess
    return "es" if _ES_HINTS.search(question) else "en"


def clock_seconds(hours: str | None, minutes: str, seconds: str, fraction: str | None = None) -> float:
    """`01:02:03.5` split into its fields → 3723.5; the fraction is read as decimal digits."""
    value = int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)
    return value + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)


RRF_K = 60


def rrf(
    rankings: Sequence[Sequence[str]], k: int = RRF_K, weights: Sequence[float] | None = None
) -> dict[str, float]:
    """Reciprocal-rank fusion: each ranking adds weight/(k + rank) to the keys it lists (rank from 1)."""
    scores: dict[str, float] = {}
    for i, ranking in enumerate(rankings):
        w = weights[i] if weights is not None else 1.0
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + w / (k + rank)
    return scores


def blend(legs: Sequence[Sequence[tuple[str, float]]], shares: Sequence[float]) -> dict[str, float]:
    """Score fusion: each leg's scores min-max scaled to 0..1 over its own candidates (a key a leg
    did not return gets that leg's 0), then summed with the legs' shares. Unlike rank fusion it
    keeps how far apart the candidates are: a passage far ahead in one leg stays ahead."""
    scores: dict[str, float] = {}
    for leg, share in zip(legs, shares, strict=True):
        if not leg:
            continue
        values = [v for _, v in leg]
        low, span = min(values), max(values) - min(values)
        for key, value in leg:
            scaled = (value - low) / span if span > 0 else 1.0
            scores[key] = scores.get(key, 0.0) + share * scaled
    return scores


@dataclass(frozen=True)
class Fusion:
    """How the dense and BM25 legs (and chunks a follow-up pins) become one ranking. "score":
    `blend` with the dense leg's share `dense_share` and BM25's the rest; pinned chunks count as
    a top BM25 hit. "rank": reciprocal-rank fusion, the dense ranking weighted `dense_weight`
    against BM25's and the pinned chunks' 1."""

    method: str = "score"
    dense_share: float = 0.7
    dense_weight: float = 4.0

    def __post_init__(self) -> None:
        if self.method not in ("score", "rank"):
            raise ValueError(f"unknown fusion {self.method!r} (known: score, rank)")

    def fuse(
        self, dense: Sequence[tuple[str, float]], lexical: Sequence[tuple[str, float]], pinned: Sequence[str]
    ) -> dict[str, float]:
        if self.method == "rank":
            lists = [[k for k, _ in dense], [k for k, _ in lexical], list(pinned)]
            return rrf(lists, weights=(self.dense_weight, 1.0, 1.0))
        rest = 1.0 - self.dense_share
        return blend([dense, lexical, [(k, 1.0) for k in pinned]], (self.dense_share, rest, rest))
