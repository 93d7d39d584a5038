"""Hybrid retrieval: dense top-k from Chroma and BM25 top-k, fused into one ranking (`core.text.Fusion`)."""

from __future__ import annotations

import datetime
import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.embedder import Embedder
from core.lexical import LexicalIndex
from core.store import VectorCollection
from core.text import Fusion
from core.types import Chunk, date_number
from rag.errors import InputError
from rag.types import Hit

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def check_date(option: str, value: str | None) -> None:
    """A filter date is YYYY, YYYY-MM or YYYY-MM-DD and a real one; anything else is refused, not
    read as "no date" (which would silently filter everything out, or nothing)."""
    if value is None:
        return
    m = _DATE.match(value.strip())
    if m is not None:
        year, month, day = int(m.group(1)), m.group(2), m.group(3)
        try:
            datetime.date(year, int(month or 1), int(day or 1))
            return
        except ValueError:
            pass
    raise InputError(f"{option} {value!r} is not a date: use YYYY, YYYY-MM or YYYY-MM-DD (e.g. 2024-03-07)")


@dataclass(frozen=True)
class Filters:
    source: str | None = None  # glob over the source path or file name
    speaker: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    language: str | None = None
    document: str | None = None  # one document's exact source path (a question that names it)

    def _date_bounds(self) -> tuple[int | None, int | None]:
        return date_number(self.date_from), date_number(self.date_to, upper=True)

    def where(self) -> dict[str, Any] | None:
        """The part Chroma can evaluate itself."""
        clauses: list[dict[str, Any]] = []
        if self.speaker:
            clauses.append({"speakers": {"$contains": self.speaker}})
        if self.document:
            clauses.append({"source": self.document})
        if self.language:
            clauses.append({"language": self.language})
        lo, hi = self._date_bounds()
        if lo is not None:
            clauses.append({"date_num": {"$gte": lo}})
        if hi is not None:
            clauses.append({"date_num": {"$lte": hi}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def accept(self, chunk: Chunk) -> bool:
        """The same conditions checked in Python (for BM25 hits), plus source globs."""
        if self.source and not any(
            fnmatch.fnmatch(name, pattern)
            for name in (chunk.source, chunk.source_name)
            for pattern in (self.source, f"*{self.source}*")
        ):
            return False
        if self.speaker and self.speaker not in chunk.speakers:
            return False
        if self.document and chunk.source != self.document:
            return False
        if self.language and chunk.language != self.language:
            return False
        lo, hi = self._date_bounds()
        if lo is not None or hi is not None:
            n = date_number(chunk.date)
            if n is None or (lo is not None and n < lo) or (hi is not None and n > hi):
                return False
        return True

    def describe(self) -> str:
        """The active filters in words, for the line that says what was searched."""
        parts = [
            f"{name} {value}"
            for name, value in (
                ("source", self.source),
                ("speaker", self.speaker),
                ("since", self.date_from),
                ("until", self.date_to),
                ("language", self.language),
                ("document", Path(self.document).name if self.document else None),
            )
            if value
        ]
        return ", ".join(parts)

    @property
    def active(self) -> bool:
        return any((self.source, self.speaker, self.date_from, self.date_to, self.language, self.document))


def filters_from(
    source: str | None,
    speaker: str | None,
    since: str | None,
    until: str | None,
    lang: str | None,
    *,
    flag: str = "",
) -> Filters:
    """Filters from what a user gave (CLI options: `flag="--"`, or API fields); a date that is not
    one is refused, naming the option."""
    check_date(f"{flag}since", since)
    check_date(f"{flag}until", until)
    return Filters(source=source, speaker=speaker, date_from=since, date_to=until, language=lang)


class Retriever:
    """Hybrid search over one collection: dense top-k from Chroma and BM25 top-k, fused
    (`Hit.fused`), with metadata filters applied to both legs."""

    def __init__(
        self,
        collection: VectorCollection,
        embedder: Embedder,
        lexical: LexicalIndex | None,
        *,
        fusion: Fusion,
    ) -> None:
        self.collection = collection
        self.embedder = embedder
        self.lexical = lexical
        self.fusion = fusion

    @property
    def speakers(self) -> frozenset[str]:
        """The collection's speakers, as its BM25 index recorded them."""
        return self.lexical.speakers if self.lexical is not None else frozenset()

    @property
    def titles(self) -> dict[str, str]:
        """Source → title of the collection's documents, as its BM25 index recorded them."""
        return self.lexical.titles if self.lexical is not None else {}

    def retrieve(
        self, query: str, k: int = 30, filters: Filters | None = None, extra: Sequence[Chunk] = ()
    ) -> list[Hit]:
        """Fused candidates, best first. `extra` chunks (e.g. what the last answer cited) enter the
        fusion as a third ranked list, so a follow-up keeps its talk in view."""
        filters = filters or Filters()
        # Post-filters (source globs) need headroom; Chroma applies the rest itself.
        fetch = k * 4 if filters.source else k
        vector = self.embedder.embed([query], query=True)[0]
        dense = [
            (c, s) for c, s in self.collection.search(vector, fetch, filters.where()) if filters.accept(c)
        ][:k]
        hits: dict[str, Hit] = {}
        for rank, (found_chunk, sim) in enumerate(dense, start=1):
            hits[found_chunk.id] = Hit(found_chunk, dense_rank=rank, dense_score=sim)
        lexical: list[tuple[str, float]] = []
        if self.lexical is not None:
            found = self.lexical.search(query, fetch * (3 if filters.active else 1))
            need = [i for i, _ in found if i not in hits]
            chunks = {c.id: c for c in self.collection.get(need)}
            for i, score in found:
                chunk: Chunk | None = hits[i].chunk if i in hits else chunks.get(i)
                if chunk is None or not filters.accept(chunk):
                    continue  # stale id (collection changed after the index) or filtered out
                hit = hits.setdefault(i, Hit(chunk))
                lexical.append((i, score))
                hit.lexical_rank, hit.lexical_score = len(lexical), score
                if len(lexical) >= k:
                    break
        extra_ids = []
        for chunk in extra:
            if filters.accept(chunk):
                hits.setdefault(chunk.id, Hit(chunk))
                extra_ids.append(chunk.id)
        fused = self.fusion.fuse([(c.id, sim) for c, sim in dense], lexical, extra_ids)
        for key, value in fused.items():
            hits[key].fused = value
        return distinct(sorted(hits.values(), key=lambda h: h.fused, reverse=True))[:k]


def distinct(hits: list[Hit]) -> list[Hit]:
    """The best hit of each text: a footer repeated on every page is one candidate, not forty."""
    seen: set[tuple[str, str]] = set()
    out = []
    for h in hits:
        key = (h.chunk.source, h.chunk.content_hash)
        if key not in seen:
            seen.add(key)
            out.append(h)
    return out
