"""Answers to chat follow-ups that the conversation's structure already holds (rag/followup.py),
with no model call: "who said that?" is read from the quoted sentence's turn; "which page is that
on?" from the label of the passage that holds it; "what did the host say
after that?" quotes the opening of the host's next turn (rag/talk.py found it), "and before that?"
the end of the turn before. Where neither can be read (no speaker is known, "the second source"),
the model answers from the passage pointed at and nothing else: not the previous answer, which a
small model repeats."""

from __future__ import annotations

from core.types import Chunk
from rag.context import CountTokens, build_passages
from rag.evidence import cite_quote, quote_at
from rag.followup import FollowUp
from rag.sentences import sentences_of
from rag.types import Answer, Hit, Passage

SAID_BY = {"en": "It was {speaker} [1]: «{quote}»", "es": "Lo dijo {speaker} [1]: «{quote}»"}
FOUND_AT = {"en": "It is in {where} [1]: «{quote}»", "es": "Está en {where} [1]: «{quote}»"}
TOLD = {
    "after": {"en": "Right after that, {speaker} said [1]: «{quote}»", "es": "Justo después, {speaker} dijo [1]: «{quote}»"},
    "before": {"en": "Right before that, {speaker} said [1]: «{quote}»", "es": "Justo antes, {speaker} dijo [1]: «{quote}»"},
}  # fmt: skip
TOLD_BY_NOBODY = {
    "after": {"en": "Right after that [1]: «{quote}»", "es": "Justo después [1]: «{quote}»"},
    "before": {"en": "Right before that [1]: «{quote}»", "es": "Justo antes [1]: «{quote}»"},
}
_QUOTE_CHARS = 240
_TOLD_CHARS = 160  # sentences are quoted until this many characters (or three sentences)


def _short(quote: str) -> str:
    quote = " ".join(quote.split())
    return quote if len(quote) <= _QUOTE_CHARS else quote[: _QUOTE_CHARS - 1].rsplit(" ", 1)[0] + "…"


def pinned_passages(hits: list[Hit], count_tokens: CountTokens, budget: int) -> list[Passage]:
    """The passages of what a follow-up points at, nothing searched: its pieces joined in order."""
    pinned = [h for h in hits if h.pinned]
    return build_passages(pinned, None, count_tokens, budget, radius=0)


def _holds(passages: list[Passage], quote: str) -> bool:
    """Whether the first passage still holds the previous answer's quote (the document may have
    changed since)."""
    return bool(quote and passages and quote_at(passages[0].text, quote) >= 0)


def said_by(
    question: str, follow: FollowUp, lang: str, passages: list[Passage], hits: list[Hit]
) -> Answer | None:
    """ "Who said that?" answered from the quoted sentence's speaker; None when it is unknown or
    the quote is no longer in the cited passage (the document changed since)."""
    quote = follow.quote.strip()
    if not follow.speaker or not _holds(passages, quote):
        return None
    shown = quote.removeprefix(f"{follow.speaker}:").strip()  # a sentence that opens the turn
    text = SAID_BY.get(lang, SAID_BY["en"]).format(speaker=follow.speaker, quote=_short(shown))
    citation = cite_quote(1, passages[0], quote, 1.0)
    return Answer(question, follow.query, text, citations=[citation], passages=passages[:1], hits=hits)


def located(
    question: str, follow: FollowUp, lang: str, passages: list[Passage], hits: list[Hit]
) -> Answer | None:
    """ "Which page is that on?" answered from the label of the piece that holds the previous
    answer's evidence (its page or time); None when that quote is no longer in the passage."""
    quote = follow.quote.strip()
    if follow.kind != "where" or not _holds(passages, quote):
        return None
    citation = cite_quote(1, passages[0], quote, 1.0)
    text = FOUND_AT.get(lang, FOUND_AT["en"]).format(where=citation.label, quote=_short(quote))
    return Answer(question, follow.query, text, citations=[citation], passages=passages[:1], hits=hits)


def told(
    question: str, follow: FollowUp, lang: str, passages: list[Passage], hits: list[Hit]
) -> Answer | None:
    """ "What did the host say after that?": the opening sentences of the turn the follow-up
    points at (the closing ones, before that), quoted with its speaker."""
    if follow.kind not in TOLD or not passages or not passages[0].chunks:
        return None
    chunks = passages[0].chunks
    piece = chunks[0] if follow.kind == "after" else chunks[-1]
    speaker, turn = _turn(piece, follow.kind == "after")
    sentences = sentences_of(turn)
    if follow.kind == "before":
        sentences = sentences[::-1]
    chosen: list[str] = []
    for sentence in sentences[:3]:
        chosen.append(sentence)
        if sum(len(c) for c in chosen) >= _TOLD_CHARS:
            break
    if not chosen:
        return None
    quote = " ".join(chosen if follow.kind == "after" else chosen[::-1])
    forms = TOLD if speaker else TOLD_BY_NOBODY
    text = forms[follow.kind].get(lang, forms[follow.kind]["en"]).format(speaker=speaker, quote=quote)
    citation = cite_quote(1, passages[0], quote, 1.0)
    return Answer(question, follow.query, text, citations=[citation], passages=passages[:1], hits=hits)


def _turn(piece: Chunk, first: bool) -> tuple[str | None, str]:
    """The speaker and text of the piece's first turn (or last), without its "Name:" opener."""
    turns = piece.turns()
    if first:
        opens = turns[0] if turns and turns[0][0] == 0 else None
        end = next((at for at, _ in turns if at > 0), len(piece.text))
        start = 0 if opens is None else len(opens[1]) + 1
        return piece.speaker_at(0), piece.text[start:end].strip()
    at, name = turns[-1] if turns else (0, None)
    start = at + len(name) + 1 if name else 0
    return piece.speaker_at(len(piece.text) - 1), piece.text[start:].strip()
