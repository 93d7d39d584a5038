"""Walking a talk from a quoted sentence: what was said right after it or right before it, and by
whom. Chunks are overlapping windows of the talk's turns ("Ana: …" opens a turn), so the walk
reads each neighbouring window only from where the previous one ends."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from core.store import VectorCollection
from core.types import Chunk

# Roughly what one passage shows the generator (about 350 tokens).
SPAN_CHARS = 1500
_WINDOWS = 8  # neighbouring windows read at most, each way, looking for the turn asked about

_HOST = re.compile(r"\b(?:host|hosts|interviewer|moderator|presentador|presentadora|anfitri[oó]n|"
                   r"entrevistador|entrevistadora|moderador|moderadora)\b", re.I)  # fmt: skip
_GUEST = re.compile(r"\b(?:guest|guests|invitad[oa]s?)\b", re.I)
# "The speaker" / "el ponente" is whoever said the quoted words: in a lecture, the lecturer.
_SAME = re.compile(r"\b(?:he|she|they|él|ella|ellos|ellas|speaker|lecturer|professor|teacher|"
                   r"ponente|conferenciante|profesor|profesora)\b", re.I)  # fmt: skip


@dataclass(frozen=True)
class Place:
    """A quoted sentence inside one window of a talk."""

    chunk: Chunk
    start: int
    end: int

    @property
    def speaker(self) -> str | None:
        return self.chunk.speaker_at(self.start)


def locate(quote: str, chunks: list[Chunk]) -> Place | None:
    """Where the quote sits among the windows the previous answer cited."""
    head = quote.strip()[:80]
    if not head:
        return None
    for c in chunks:
        at = c.text.find(head)
        if at >= 0:
            return Place(c, at, at + len(quote.strip()))
    return None


def wanted(question: str, speakers: list[str], quoted: str | None) -> Callable[[str | None], bool] | None:
    """Whose words the question asks for: a speaker it names ("what did Chris say…"), the same
    one ("what did she say…"), or someone other than the quoted speaker: "the host", "the guest",
    and a plain "what came next" — the next turn of the conversation. None: no speakers known."""
    words = set(re.findall(r"\w+", question.lower()))
    named = [s for s in speakers if any(len(w) > 2 and w in words for w in re.findall(r"\w+", s.lower()))]
    if named:
        return lambda s: s in named
    if quoted and _SAME.search(question) and not (_HOST.search(question) or _GUEST.search(question)):
        return lambda s: s == quoted
    if quoted:
        return lambda s: s is not None and s != quoted
    return None


def neighbours(collection: VectorCollection, chunk: Chunk, step: int, count: int = _WINDOWS) -> list[Chunk]:
    """The `count` windows after (step 1) or before (step -1) `chunk` in its talk, nearest first."""
    wanted_idx = [chunk.chunk_index + step * i for i in range(1, count + 1)]
    wanted_idx = [i for i in wanted_idx if i >= 0]
    if not wanted_idx:
        return []
    found = collection.get_where({"$and": [{"source": chunk.source}, {"chunk_index": {"$in": wanted_idx}}]})
    return sorted(found, key=lambda c: abs(c.chunk_index - chunk.chunk_index))


def _new_from(previous: Chunk, chunk: Chunk) -> int:
    """Where `chunk`'s text stops repeating the end of `previous` (the windows overlap)."""
    at = previous.text.find(chunk.text[:60])
    return len(previous.text) - at if at > 0 else 0


def _piece(chunk: Chunk, start: int, end: int) -> Chunk:
    """Characters start..end of a window as a chunk of its own: times and speakers narrowed, and
    the cue positions kept (shifted), so a citation of it can narrow further to its quote."""
    while start < end and chunk.text[start].isspace():
        start += 1
    narrowed = chunk.narrowed_to(start, end)
    rows = json.loads(chunk.spans) if chunk.spans else []
    kept = [
        [max(0, row[0] - start), *row[1:]]
        for i, row in enumerate(rows)
        if row[0] < end and (rows[i + 1][0] if i + 1 < len(rows) else len(chunk.text)) > start
    ]
    return replace(narrowed, text=chunk.text[start:end].rstrip(), spans=json.dumps(kept) if kept else "")


def after(
    collection: VectorCollection, place: Place, who: Callable[[str | None], bool] | None
) -> list[Chunk]:
    """What was said right after the quote: from the next turn of `who` (or straight after the
    quote), about SPAN_CHARS of the talk. Empty when the talk ends there."""
    segments = [(place.chunk, place.end)]
    previous = place.chunk
    for nxt in neighbours(collection, place.chunk, 1):
        if nxt.chunk_index != previous.chunk_index + 1:
            break
        segments.append((nxt, _new_from(previous, nxt)))
        previous = nxt
    begin = _first_turn(segments, who, place.speaker)
    if begin is None:
        begin = 0, place.end
    out: list[Chunk] = []
    left = SPAN_CHARS
    for i, (chunk, start) in enumerate(segments[begin[0] :]):
        start = begin[1] if i == 0 else start
        if left <= 0 or start >= len(chunk.text):
            continue
        end = min(len(chunk.text), start + left)
        piece = _piece(chunk, start, end)
        if piece.text:
            out.append(piece)
            left -= end - start
    return out


def _first_turn(
    segments: list[tuple[Chunk, int]], who: Callable[[str | None], bool] | None, quoted: str | None
) -> tuple[int, int] | None:
    """(segment, offset) of the first turn after the quote by `who`; the quote's own speaker goes
    on talking right after it, so "what did she say next" starts there."""
    if who is None:
        return None
    if quoted is not None and who(quoted):
        return 0, segments[0][1]
    for i, (chunk, start) in enumerate(segments):
        for at, name in chunk.turns():
            if at >= start and who(name):
                return i, at
    return None


def before(
    collection: VectorCollection, place: Place, who: Callable[[str | None], bool] | None
) -> list[Chunk]:
    """What was said right before the quote's turn (its own speaker: right before the quote), by
    `who` when the question names someone: about SPAN_CHARS of the talk ending there."""
    turn_start = max((at for at, _ in place.chunk.turns() if at <= place.start), default=None)
    quoted = place.speaker
    own = who is not None and quoted is not None and who(quoted)
    end = place.start if own or turn_start is None else turn_start
    pieces: list[tuple[Chunk, int, int]] = [(place.chunk, 0, end)]
    later = place.chunk
    for earlier in neighbours(collection, place.chunk, -1):
        if earlier.chunk_index != later.chunk_index - 1 or sum(e - s for _, s, e in pieces) >= SPAN_CHARS * 2:
            break
        pieces.insert(0, (earlier, 0, len(earlier.text) - _new_from(earlier, later)))
        later = earlier
    if who is not None and not own:
        pieces = _until_last_turn_of(pieces, who)
    out: list[Chunk] = []
    left = SPAN_CHARS
    for chunk, start, stop in reversed(pieces):
        if left <= 0 or stop <= start:
            continue
        begin = max(start, stop - left)
        opener = [at for at, _ in chunk.turns() if begin <= at < stop]
        begin = opener[0] if opener and begin > start else begin  # start at a turn when one is near
        piece = _piece(chunk, begin, stop)
        if piece.text:
            out.insert(0, piece)
            left -= stop - begin
    return out


def _until_last_turn_of(
    pieces: list[tuple[Chunk, int, int]], who: Callable[[str | None], bool]
) -> list[tuple[Chunk, int, int]]:
    """The pieces cut to end where the last turn of `who` before the quote ends."""
    for i in range(len(pieces) - 1, -1, -1):
        chunk, start, stop = pieces[i]
        turns = [(at, name) for at, name in chunk.turns() if start <= at < stop]
        for j in range(len(turns) - 1, -1, -1):
            if who(turns[j][1]):
                end = turns[j + 1][0] if j + 1 < len(turns) else stop
                return [*pieces[:i], (chunk, start, end)]
    return pieces
