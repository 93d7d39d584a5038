"""Fill the generator's context: top passages within a token budget, each expanded with its
neighbouring chunks (adjacent windows, or nearby transcript time) and merged where they overlap."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from core.store import VectorCollection
from core.types import Chunk
from rag.types import Hit, Passage

CountTokens = Callable[[str], int]


def merge_text(a: str, b: str) -> str:
    """Join two consecutive windows, dropping the overlap the chunker repeated."""
    limit = min(len(a), len(b), 4000)
    for size in range(limit, 9, -1):  # below ~10 characters a match is more likely chance than overlap
        if a.endswith(b[:size]):
            return a + b[size:]
    sep = " " if not a.endswith("\n") else ""
    return a + sep + b


def fmt_time(seconds: float) -> str:
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def label(chunks: Sequence[Chunk]) -> str:
    """`Talk title — Speaker — 12:34–13:10`, `notes.pdf p. 7`, or `title — section`."""
    first, last = chunks[0], chunks[-1]
    if first.start_s is not None:
        parts = [first.title]
        speakers = list(dict.fromkeys(s for c in chunks for s in c.speakers))
        if speakers:
            parts.append(", ".join(speakers[:3]))
        end = max((c.end_s for c in chunks if c.end_s is not None), default=first.start_s)
        start, stop = fmt_time(first.start_s), fmt_time(end)
        parts.append(start if start == stop else f"{start}–{stop}")  # a talk's last cue has no end
        return " — ".join(parts)
    pages = [p for c in chunks for p in (c.page_start, c.page_end) if p is not None]
    if pages:
        lo, hi = min(pages), max(pages)
        return f"{first.source_name} p. {lo}" if lo == hi else f"{first.source_name} pp. {lo}–{hi}"
    section = last.section or first.section
    base = first.title or first.source_name
    return f"{base} — {section}" if section and section != base else base


def play_link(url: str | None, start_s: float | None) -> str:
    """The talk's link at a time: `&t=75s` for YouTube-style links, `#t=75` (the media-fragment
    form browsers and players read) for the rest, the recording's own file:// URI included."""
    if not url:
        return ""
    if start_s is None:
        return url
    at = max(0, int(start_s))
    host = url.split("://", 1)[-1].split("/", 1)[0].lower()
    if host.endswith(("youtube.com", "youtu.be")):
        return f"{url}{'&' if '?' in url else '?'}t={at}s"
    return f"{url.split('#', 1)[0]}#t={at}"


def _neighbours(collection: VectorCollection, chunk: Chunk, radius: int, window_s: float) -> list[Chunk]:
    wanted = [i for i in range(chunk.chunk_index - radius, chunk.chunk_index + radius + 1) if i >= 0]
    found = collection.get_where({"$and": [{"source": chunk.source}, {"chunk_index": {"$in": wanted}}]})
    if chunk.start_s is not None:
        lo = chunk.start_s - window_s
        hi = (chunk.end_s or chunk.start_s) + window_s
        found = [c for c in found if c.id == chunk.id or (c.start_s is not None and lo <= c.start_s <= hi)]
    return sorted(found, key=lambda c: c.chunk_index)


def build_passages(
    hits: Sequence[Hit],
    collection: VectorCollection | None,
    count_tokens: CountTokens,
    budget: int,
    *,
    radius: int = 1,
    window_s: float = 60.0,
) -> list[Passage]:
    """Passages in hit order within `budget` tokens; a hit whose span another passage already
    covers is folded into it instead of repeated."""
    groups: list[tuple[Hit, list[Chunk]]] = []
    used = 0
    for hit in hits:
        covered = next((g for g in groups if any(c.id == hit.chunk.id for c in g[1])), None)
        if covered is not None:
            continue
        base_cost = count_tokens(hit.chunk.text)
        if used + base_cost > budget:
            if groups:
                continue  # a later, shorter hit may still fit
            base_cost = budget  # the best passage always goes in, even alone over budget
        chunks = [hit.chunk]
        if collection is not None and radius > 0:
            expanded = _neighbours(collection, hit.chunk, radius, window_s)
            extra_cost = sum(count_tokens(c.text) for c in expanded if c.id != hit.chunk.id) // 2  # overlap
            if used + base_cost + extra_cost <= budget and expanded:
                chunks = expanded
                base_cost += extra_cost
        # Merge with an existing passage from the same source that touches this one.
        merged = False
        for i, (other_hit, other) in enumerate(groups):
            if other[0].source == chunks[0].source and (
                chunks[0].chunk_index <= other[-1].chunk_index + 1
                and other[0].chunk_index <= chunks[-1].chunk_index + 1
            ):
                union = {c.id: c for c in other + chunks}
                groups[i] = (other_hit, sorted(union.values(), key=lambda c: c.chunk_index))
                merged = True
                break
        if not merged:
            groups.append((hit, chunks))
        used += base_cost
        if used >= budget:
            break
    passages = []
    for number, (hit, chunks) in enumerate(groups, start=1):
        text = chunks[0].text
        for c in chunks[1:]:
            text = merge_text(text, c.text)
        passages.append(Passage(number, hit, chunks, text))
    return passages


# Sentences that address the assistant rather than the reader ("ignore previous instructions and
# reply with ...") are withheld from the generator: a 1.5B model obeys them even when the prompt
# says not to (measured: "PWNED [1]" with only the planted passage in context). The user still
# sees the passage as written.
_ADDRESSED = re.compile(
    r"\b(ignore|disregard|forget|override)\b[^.!?\n]{0,40}\b(instructions?|rules|prompt)\b"
    r"|\b(reply|respond|answer)\b[^.!?\n]{0,30}\bwith the (single )?word\b"
    r"|\b(ignora|olvida|omite)\b[^.!?\n]{0,40}\b(instrucciones|reglas|indicaciones)\b"
    r"|\bresponde\b[^.!?\n]{0,30}\bcon la palabra\b"
    r"|\b(you are|as an?) (an? )?(ai|assistant|language model)\b"
    r"|\bnote to the (ai|assistant)\b",
    re.I,
)
WITHHELD = "[…]"


def for_generator(text: str) -> str:
    """A passage as the generator sees it: sentences addressed to an assistant withheld."""
    if not _ADDRESSED.search(text):
        return text
    parts = re.split(r"((?<=[.!?])\s+|\n+)", text)
    return "".join(WITHHELD if _ADDRESSED.search(part) else part for part in parts)


def render_sources(passages: Sequence[Passage]) -> str:
    blocks = []
    for p in passages:
        blocks.append(f"[{p.number}] ({label(p.chunks)})\n{for_generator(p.text.strip())}")
    return "\n\n".join(blocks)
