"""The BM25 leg: an index over the same chunks as the vector store, rebuilt at the end of every
ingest that changed something (never per query) and written atomically next to the store."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.text import tokenize
from core.types import speakers_of

if TYPE_CHECKING:
    from core.store import VectorCollection


@dataclass(frozen=True)
class Names:
    """What a question may name in a collection."""

    speakers: frozenset[str]
    titles: dict[str, str]  # source → title

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Names:
        return cls(frozenset(raw.get("speakers", [])), dict(raw.get("titles", {})))


NO_NAMES = Names(frozenset(), {})


class LexicalIndex:
    """BM25 over a collection's chunk texts (bm25s), saved beside the store with the collection
    revision it was built from, and what a question may name: the collection's speakers and its
    documents' titles (read on the query side with the words: `rag.named`)."""

    def __init__(self, bm25: object, ids: list[str], revision: str = "", names: Names | None = None) -> None:
        self._bm25 = bm25
        self.ids = ids
        self.revision = revision  # the collection revision it was built from
        self.names = names  # None: saved before names were kept (rebuilt by `synced`)

    @property
    def speakers(self) -> frozenset[str]:
        return self.names.speakers if self.names else frozenset()

    @property
    def titles(self) -> dict[str, str]:
        """Source → title of every document."""
        return self.names.titles if self.names else {}

    @classmethod
    def build(cls, records: Iterable[tuple[str, str]]) -> LexicalIndex | None:
        import bm25s

        ids: list[str] = []
        corpus: list[list[str]] = []
        for chunk_id, text in records:
            ids.append(chunk_id)
            corpus.append(tokenize(text) or ["_empty_"])
        if not ids:
            return None
        bm25 = bm25s.BM25()
        bm25.index(corpus, show_progress=False)
        return cls(bm25, ids, names=NO_NAMES)

    def save(self, folder: Path) -> None:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
        self._bm25.save(str(tmp), show_progress=False)  # type: ignore[attr-defined]
        (tmp / "ids.json").write_text(json.dumps(self.ids))
        (tmp / "revision").write_text(self.revision)
        names = self.names or NO_NAMES
        (tmp / "names.json").write_text(
            json.dumps({"speakers": sorted(names.speakers), "titles": names.titles})
        )
        old = folder.with_name(folder.name + ".old")
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex | None:
        if not (folder / "ids.json").exists():
            return None
        import bm25s

        try:
            bm25 = bm25s.BM25.load(str(folder), mmap=False, show_progress=False)
            ids = json.loads((folder / "ids.json").read_text())
            rev, named = folder / "revision", folder / "names.json"
            names = Names.from_json(json.loads(named.read_text())) if named.exists() else None
            return cls(bm25, ids, rev.read_text() if rev.exists() else "", names)
        except (OSError, ValueError, KeyError, TypeError, IndexError, EOFError):
            # Damaged files (UnicodeDecodeError and JSON errors are ValueErrors): the index is
            # derived data, so it counts as missing and `synced` rebuilds it from the store.
            return None

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        tokens = tokenize(query)
        if not tokens:
            return []
        bm25 = self._bm25
        vocab = bm25.vocab_dict  # type: ignore[attr-defined]
        tokens = [t for t in tokens if t in vocab]
        if not tokens:
            return []
        k = min(k, len(self.ids))
        docs, scores = bm25.retrieve([tokens], k=k, show_progress=False, n_threads=1)  # type: ignore[attr-defined]
        return [(self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0]


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def synced(
    collection: VectorCollection, folder: Path, save: Callable[[LexicalIndex], None] | None = None
) -> LexicalIndex | None:
    """The BM25 index for `collection`, rebuilt from the store only when the collection's revision
    moved since it was built (another machine ingested into a shared server, or a run was killed
    between writing chunks and rebuilding the index). A rebuilt index is written by `save`, or, by
    default, straight to `folder`: the ingest side, which holds the collection's lock."""
    revision = str(collection.metadata.get("revision", ""))
    index = LexicalIndex.load(folder)
    if index is not None and index.revision == revision and index.names is not None:
        return index
    speakers: set[str] = set()
    titles: dict[str, str] = {}

    def texts() -> Iterator[tuple[str, str]]:
        for chunk_id, text, meta in collection.iter_records():
            speakers.update(speakers_of(meta))
            titles.setdefault(str(meta.get("source", "")), str(meta.get("title", "")))
            yield chunk_id, text

    index = LexicalIndex.build(texts())
    if index is None:
        if save is None:
            remove(folder)
        return None
    index.names = Names(frozenset(speakers), titles)  # read while `build` consumed the records
    index.revision = revision
    (save or (lambda built: built.save(folder)))(index)
    return index
