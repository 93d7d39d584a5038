"""Answers to chat follow-ups that the conversation's structure already holds (rag/followup.py):
"who said that?" is read from the quoted sentence's turn, with no model call; "what did the host say
after that?" is generated from the stretch of the talk that follows the quote, and from nothing
else, so the model cannot answer it by repeating the previous answer."""

from __future__ import annotations

from rag.citations import cite_quote
from rag.context import CountTokens, build_passages
from rag.followup import FollowUp
from rag.types import Answer, Hit, Passage

SAID_BY = {"en": "It was {speaker} [1]: «{quote}»", "es": "Lo dijo {speaker} [1]: «{quote}»"}
# Tells the generator where its one source sits in the talk; "that" in the question is the quote.
WHERE = {
    "after": {
        "en": 'Source [1] is what was said right after "{quote}".',
        "es": 'La fuente [1] es lo que se dijo justo después de "{quote}".',
    },
    "before": {
        "en": 'Source [1] is what was said right before "{quote}".',
        "es": 'La fuente [1] es lo que se dijo justo antes de "{quote}".',
    },
}
_QUOTE_CHARS = 240


def _short(quote: str) -> str:
    quote = " ".join(quote.split())
    return quote if len(quote) <= _QUOTE_CHARS else quote[: _QUOTE_CHARS - 1].rsplit(" ", 1)[0] + "…"


def pinned_passages(hits: list[Hit], count_tokens: CountTokens, budget: int) -> list[Passage]:
    """The passages of what a follow-up points at, nothing searched: its pieces joined in order."""
    pinned = [h for h in hits if h.pinned]
    return build_passages(pinned, None, count_tokens, budget, radius=0)


def said_by(
    question: str, follow: FollowUp, lang: str, passages: list[Passage], hits: list[Hit]
) -> Answer | None:
    """ "Who said that?" answered from the quoted sentence's speaker; None when it is unknown or
    the quote is no longer in the cited passage (the document changed since)."""
    quote = follow.quote.strip()
    if not follow.speaker or not quote or not passages or quote[:80] not in passages[0].text:
        return None
    text = SAID_BY.get(lang, SAID_BY["en"]).format(speaker=follow.speaker, quote=_short(quote))
    citation = cite_quote(1, passages[0], quote, 1.0)
    return Answer(question, follow.query, text, citations=[citation], passages=passages[:1], hits=hits)


def question_for_generator(question: str, follow: FollowUp, lang: str) -> str:
    """The question as the generator reads it: with "after/before that" anchored to the quote."""
    where = WHERE.get(follow.kind, {})
    if not where or not follow.quote:
        return question
    return f"{question}\n({where.get(lang, where['en']).format(quote=_short(follow.quote))})"
