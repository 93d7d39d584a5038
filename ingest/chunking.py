"""Token-aware sliding windows over units. Pure: no model imports; token counts come from a callable.

A window grows unit by unit up to `size` tokens and ends on a unit boundary (paragraph, cue, page);
the next window starts with the trailing units of the previous one that fit in `overlap` tokens.
Units larger than a window are first split at sentence, then word boundaries.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from core.types import Chunk, Document, MetaValue, Unit

CountTokens = Callable[[Sequence[str]], list[int]]

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[\"'¿¡(\[]?[A-ZÁÉÍÓÚÑ0-9])")


@dataclass(frozen=True)
class ChunkConfig:
    """Sliding windows in embedder tokens; `rag.wiring.chunk_config` derives them from Settings."""

    size: int
    overlap: int

    def __post_init__(self) -> None:
        if self.size < 16:
            raise ValueError("chunk size must be at least 16 tokens")
        if not 0 <= self.overlap < self.size // 2 + 1:
            raise ValueError("chunk overlap must be between 0 and half the chunk size")

    @property
    def key(self) -> str:
        """Changes whenever a setting that changes the chunks changes (part of the sync manifest)."""
        return f"win-v1:{self.size}:{self.overlap}"

    @classmethod
    def from_key(cls, key: str) -> ChunkConfig | None:
        """The config a manifest key was made with; None for a key of another kind."""
        kind, _, rest = key.partition(":")
        size, _, overlap = rest.partition(":")
        try:
            return cls(int(size), int(overlap)) if kind == "win-v1" else None
        except ValueError:
            return None


def _split_oversized(unit: Unit, n_tokens: int, size: int, count: CountTokens) -> list[tuple[Unit, int]]:
    pieces = [p for p in _SENTENCE_END.split(unit.text) if p.strip()]
    if len(pieces) <= 1:
        words = unit.text.split()
        # Keep each word-piece comfortably inside the window; token/word ratios vary by language.
        per = max(1, int(len(words) * size / max(n_tokens, 1) * 0.9))
        pieces = [" ".join(words[i : i + per]) for i in range(0, len(words), per)]
    counts = count(pieces)
    out: list[tuple[Unit, int]] = []
    cursor = 0
    for piece, n in zip(pieces, counts, strict=True):
        found = unit.text.find(piece[:40], cursor)
        rel = found if found >= 0 else cursor
        cursor = rel + len(piece)
        sub = replace(unit, text=piece, start_char=unit.start_char + rel, end_char=unit.start_char + cursor)
        if n > size and len(piece.split()) > 1:
            out.extend(_split_oversized(sub, n, size, count))
        else:
            out.append((sub, n))
    return out


def windows(units: Sequence[Unit], count: CountTokens, config: ChunkConfig) -> list[list[Unit]]:
    """Group units into overlapping windows of at most config.size tokens."""
    return [[u for u, _ in w] for w in sized_windows(units, count, config)]


def sized_windows(
    units: Sequence[Unit], count: CountTokens, config: ChunkConfig
) -> list[list[tuple[Unit, int]]]:
    """Like `windows`, with each unit's token count."""
    sized: list[tuple[Unit, int]] = []
    for unit, n in zip(units, count([u.text for u in units]), strict=True):
        if n > config.size:
            sized.extend(_split_oversized(unit, n, config.size, count))
        else:
            sized.append((unit, n))
    out: list[list[tuple[Unit, int]]] = []
    i = 0
    while i < len(sized):
        window: list[tuple[Unit, int]] = []
        total = 0
        j = i
        while j < len(sized) and (not window or total + sized[j][1] <= config.size):
            # A new section is a natural break once the window is reasonably full.
            if window and sized[j][0].section != window[-1][0].section and total >= config.size // 2:
                break
            window.append(sized[j])
            total += sized[j][1]
            j += 1
        out.append(window)
        if j >= len(sized):
            break
        # Step back over trailing units that fit in the overlap, but always advance.
        back, carried = j, 0
        while back - 1 > i and carried + sized[back - 1][1] <= config.overlap:
            back -= 1
            carried += sized[back][1]
        # The overlap leaves room for the next unit: a window of carried units alone repeats its
        # predecessor's tail, a duplicate that takes a retrieval slot and holds nothing new.
        while back < j and carried + sized[j][1] > config.size:
            carried -= sized[back][1]
            back += 1
        i = back
    return out


def _join(units: Sequence[Unit]) -> tuple[str, str]:
    """The window's text, and where each unit starts in it (JSON spans, when units carry times or
    pages: what narrows a citation to its cue or page)."""
    # Cues and transcript paragraphs flow as running speech; prose keeps paragraph breaks.
    sep = " " if all(u.start_s is not None for u in units) else "\n\n"
    spans, offset = [], 0
    for u in units:
        spans.append([offset, u.start_s, u.end_s, u.page])
        offset += len(u.text) + len(sep)
    located = any(u.start_s is not None or u.page is not None for u in units) and len(units) > 1
    return sep.join(u.text for u in units), json.dumps(spans) if located else ""


def chunk_id(source: str, text: str, occurrence: int) -> str:
    digest = hashlib.sha256(f"{source}\x00{occurrence}\x00{text}".encode()).hexdigest()
    return digest[:32]


def chunk_document(
    doc: Document, source: str, title: str, count: CountTokens, config: ChunkConfig
) -> list[Chunk]:
    """Document → chunks carrying everything a citation or filter needs."""
    meta = doc.meta
    base_speakers = tuple(s.strip() for s in str(meta.get("speaker", "")).split(",") if s.strip())
    extra: dict[str, MetaValue] = {
        k: v for k, v in meta.items() if k not in {"title", "speaker", "language", "date", "url"}
    }
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for index, sized in enumerate(sized_windows(doc.units, count, config)):
        window = [u for u, _ in sized]
        text, spans = _join(window)
        content_hash = hashlib.sha256(text.encode()).hexdigest()[:16]
        occurrence = seen.get(content_hash, 0)
        seen[content_hash] = occurrence + 1
        pages = [u.page for u in window if u.page is not None]
        starts = [u.start_s for u in window if u.start_s is not None]
        ends = [u.end_s for u in window if u.end_s is not None]
        # Explicit metadata (the sidecar's speaker) wins over names guessed from the text.
        speakers = (
            tuple(
                dict.fromkeys(
                    u.speaker for u in window if u.speaker and not (u.speaker_guessed and base_speakers)
                )
            )
            or base_speakers
        )
        chunks.append(
            Chunk(
                id=chunk_id(source, text, occurrence),
                text=text,
                source=source,
                chunk_index=index,
                title=title,
                kind=doc.kind,
                content_hash=content_hash,
                start_char=window[0].start_char,
                end_char=window[-1].end_char,
                page_start=min(pages) if pages else None,
                page_end=max(pages) if pages else None,
                start_s=min(starts) if starts else None,
                end_s=max(ends) if ends else None,
                speakers=speakers,
                section=window[0].section,
                language=str(meta["language"]) if meta.get("language") else None,
                date=str(meta["date"]) if meta.get("date") else None,
                url=str(meta["url"]) if meta.get("url") else None,
                tokens=sum(n for _, n in sized),
                extra=extra,
                spans=spans,
            )
        )
    return chunks
