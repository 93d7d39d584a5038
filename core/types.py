"""Typed records that travel through the pipeline: Unit → Document → Chunk."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

MetaValue = str | int | float | bool
# Chroma also takes lists of one scalar type (used for speakers).
StoreValue = MetaValue | list[str]


@dataclass(frozen=True)
class Unit:
    """A natural piece of a document that a chunk should not cut if it can help it:
    a paragraph, a subtitle cue, a speaker turn or a PDF page."""

    text: str
    start_char: int = 0
    end_char: int = 0
    page: int | None = None
    start_s: float | None = None
    end_s: float | None = None
    speaker: str | None = None
    section: str | None = None
    # Read from the text ("Ana: …") rather than from markup or metadata: explicit metadata wins.
    speaker_guessed: bool = False


@dataclass
class Document:
    """What a loader returns: the units plus document-level metadata (title, speaker, date, ...)."""

    path: str
    kind: str
    units: list[Unit]
    meta: dict[str, MetaValue] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


# Metadata keys a chunk carries in the store; everything a citation or a filter needs.
CHUNK_KEYS = (
    "source",
    "source_name",
    "title",
    "kind",
    "chunk_index",
    "start_char",
    "end_char",
    "page_start",
    "page_end",
    "start_s",
    "end_s",
    "speakers",
    "section",
    "language",
    "date",
    "date_num",
    "url",
    "content_hash",
    "tokens",
)


@dataclass(frozen=True)
class Chunk:
    """One window of a document as stored and retrieved: its text, where it sits (pages, cue
    times, character span, position in the document) and the metadata citations and filters read.
    `id` is derived from source, text and occurrence, so re-ingesting converges to the same ids."""

    id: str
    text: str
    source: str
    chunk_index: int
    title: str
    kind: str
    content_hash: str
    start_char: int = 0
    end_char: int = 0
    page_start: int | None = None
    page_end: int | None = None
    start_s: float | None = None
    end_s: float | None = None
    speakers: tuple[str, ...] = ()
    section: str | None = None
    language: str | None = None
    date: str | None = None
    url: str | None = None
    tokens: int = 0  # in the embedder's tokenizer
    extra: dict[str, MetaValue] = field(default_factory=dict)
    # Where each unit (cue, page, turn) starts inside `text`, as JSON [[offset, start_s, end_s,
    # page], ...]: lets a citation point at the cue or page of its quote, not the whole window.
    spans: str = ""

    @property
    def source_name(self) -> str:
        return self.source.rsplit("/", 1)[-1]

    def turns(self) -> list[tuple[int, str]]:
        """Where a speaker's turn opens inside the text ("Ana: …" after a unit break), in order;
        the text before the first opener continues the turn of `speakers[0]`."""
        if not self.speakers:
            return []
        names = "|".join(re.escape(s) for s in sorted(self.speakers, key=len, reverse=True))
        return [(m.start(), m.group(1)) for m in re.finditer(rf"(?:^|(?<=\s))({names}):\s", self.text)]

    def speaker_at(self, offset: int) -> str | None:
        """Who is speaking at character `offset` of the text."""
        current = self.speakers[0] if self.speakers else None
        for at, name in self.turns():
            if at > offset:
                break
            current = name
        return current

    def narrowed_to(self, offset: int, end: int | None = None) -> Chunk:
        """This chunk with its times, pages and speakers narrowed to the units that characters
        offset..end of its text fall in (a quote may run over several cues of a transcript);
        unchanged when it records no spans or the offset is unknown."""
        if offset < 0:
            return self
        last = max(offset, (end if end is not None else offset + 1) - 1)
        speaking = [self.speaker_at(offset)] + [n for at, n in self.turns() if offset < at <= last]
        speakers = tuple(dict.fromkeys(s for s in speaking if s)) or self.speakers
        if not self.spans:
            return replace(self, speakers=speakers)
        places: list[tuple[float | None, float | None, int | None]] = []
        for start, start_s, end_s, page in json.loads(self.spans):
            if start > last:
                break
            if start <= offset:
                places = []  # a unit that starts after this one holds `offset` instead
            places.append((start_s, end_s, page))
        if not places:
            return replace(self, speakers=speakers)
        starts = [p[0] for p in places if p[0] is not None]
        ends = [p[1] for p in places if p[1] is not None]
        pages = [p[2] for p in places if p[2] is not None]
        return replace(
            self,
            start_s=min(starts) if starts else self.start_s,
            end_s=max(ends) if ends else self.end_s,
            page_start=min(pages) if pages else self.page_start,
            page_end=max(pages) if pages else self.page_end,
            speakers=speakers,
        )

    def to_metadata(self) -> dict[str, StoreValue]:
        """Flat metadata for Chroma, which rejects None and lists."""
        raw: dict[str, Any] = {
            "source": self.source,
            "source_name": self.source_name,
            "title": self.title,
            "kind": self.kind,
            "chunk_index": self.chunk_index,
            "start_char": self.start_char,
            "end_char": self.end_char,
            "page_start": self.page_start,
            "page_end": self.page_end,
            "start_s": self.start_s,
            "end_s": self.end_s,
            # A list, so `{"speakers": {"$contains": name}}` matches whole names.
            "speakers": list(self.speakers) if self.speakers else None,
            "section": self.section,
            "language": self.language,
            "date": self.date,
            "date_num": date_number(self.date),
            "url": self.url,
            "content_hash": self.content_hash,
            "tokens": self.tokens,
            "spans": self.spans or None,
        }
        for key, value in self.extra.items():
            raw.setdefault(f"meta_{key}", value)
        return {k: v for k, v in raw.items() if v is not None}

    @classmethod
    def from_record(cls, chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
        speakers = speakers_of(meta)
        extra = {k[5:]: v for k, v in meta.items() if k.startswith("meta_")}
        return cls(
            id=chunk_id,
            text=text,
            source=str(meta.get("source", "")),
            chunk_index=int(meta.get("chunk_index", 0)),
            title=str(meta.get("title", "")),
            kind=str(meta.get("kind", "")),
            content_hash=str(meta.get("content_hash", "")),
            start_char=int(meta.get("start_char", 0)),
            end_char=int(meta.get("end_char", 0)),
            page_start=_opt_int(meta.get("page_start")),
            page_end=_opt_int(meta.get("page_end")),
            start_s=_opt_float(meta.get("start_s")),
            end_s=_opt_float(meta.get("end_s")),
            speakers=speakers,
            section=_opt_str(meta.get("section")),
            language=_opt_str(meta.get("language")),
            date=_opt_str(meta.get("date")),
            url=_opt_str(meta.get("url")),
            tokens=int(meta.get("tokens", 0)),
            extra=extra,
            spans=str(meta.get("spans", "")),
        )


def _opt_int(v: Any) -> int | None:
    return None if v is None else int(v)


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


def _opt_str(v: Any) -> str | None:
    return None if v is None else str(v)


def date_number(date: str | None, *, upper: bool = False) -> int | None:
    """'2024-03-07' → 20240307 (Chroma compares only numbers). A partial date pads with 0, or, as
    an upper bound, with 9: '2025-03' → 20250399, so it means up to the end of March."""
    if not date:
        return None
    digits = "".join(ch for ch in str(date)[:10] if ch.isdigit())
    if len(digits) < 4:
        return None
    return int(digits[:8].ljust(8, "9" if upper else "0"))


def speakers_of(meta: dict[str, Any]) -> tuple[str, ...]:
    """The speakers a stored chunk's metadata names (a list; one name in older records)."""
    raw = meta.get("speakers") or []
    return tuple(str(s) for s in raw) if isinstance(raw, list) else (str(raw),)
