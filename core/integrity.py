"""Does a collection's vector index return what it holds?

Chroma keeps the vectors of an on-disk collection in HNSW files beside its SQLite database. A
damaged header or metadata file makes the whole collection unreadable; a damaged data file is
worse: queries go on answering, with the wrong chunks, and no error. So a sample of the stored
vectors is looked up: each must find its own chunk. The texts and metadata stay readable in the
SQLite database (`chroma_records`), which is what `rag doctor --repair` rebuilds the vectors from.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from core.errors import StoreError
from core.store import VectorCollection

SAMPLE = 12
NEIGHBOURS = 10  # identical texts share a vector: a chunk may rank behind its copies


def vector_problem(collection: VectorCollection, sample: int = SAMPLE) -> str:
    """'' when sampled vectors find their own chunks; otherwise what is wrong, in a few words."""
    try:
        total = collection.count()
        # One id at each of `sample` spread offsets: cheap on a server too, whatever the size.
        offsets = sorted({total * k // sample for k in range(sample)}) if total else []
        picked = [i for offset in offsets for i in collection.ids(limit=1, offset=offset)]
        if not picked:
            return ""
        vectors = collection.vectors(picked)
        found = sum(
            any(chunk.id == i for chunk, _ in collection.search(vector, NEIGHBOURS))
            for i, vector in zip(picked, vectors, strict=True)
        )
    except StoreError as exc:
        return f"unreadable ({exc.reason})"
    # HNSW is approximate, but an exact stored vector finds itself; a damaged index finds almost none.
    if found * 2 < len(picked):
        return f"returns the wrong chunks ({found} of {len(picked)} stored vectors found themselves)"
    return ""


def check_vectors(collection: VectorCollection, location: str) -> None:
    problem = vector_problem(collection)
    if problem:
        raise StoreError(
            f"the vector index of collection {collection.name!r} in {location} is damaged: {problem}. "
            "Run `rag doctor --repair` to rebuild it from the texts the store holds"
        )


def chroma_records(database: Path, name: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(id, text, metadata) of every chunk of collection `name`, read from Chroma's SQLite file
    directly: what is left when Chroma itself cannot open the collection's vector index."""
    chunks = (
        "FROM collections c JOIN segments s ON s.collection = c.id AND s.scope = 'METADATA' "
        "JOIN embeddings e ON e.segment_id = s.id "
    )
    values = "m.key, m.string_value, m.int_value, m.float_value, m.bool_value"
    try:
        db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            ids = dict(db.execute(f"SELECT e.id, e.embedding_id {chunks} WHERE c.name = ?", (name,)))
            scalars = db.execute(
                f"SELECT e.id, {values} {chunks} JOIN embedding_metadata m ON m.id = e.id WHERE c.name = ?",
                (name,),
            ).fetchall()
            lists = db.execute(  # list values (speakers), one row per element, in order
                f"SELECT e.id, {values} {chunks} JOIN embedding_metadata_array m ON m.id = e.id "
                "WHERE c.name = ? ORDER BY m.rowid",
                (name,),
            ).fetchall()
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the chunks of {name!r} from {database}: {exc}") from None
    texts = dict.fromkeys(ids.values(), "")
    metas: dict[str, dict[str, Any]] = {i: {} for i in ids.values()}
    for row_id, key, *value in scalars:
        if key == "chroma:document":
            texts[ids[row_id]] = value[0] or ""
        elif not key.startswith("chroma:"):
            metas[ids[row_id]][key] = _value(*value)
    for row_id, key, *value in lists:
        metas[ids[row_id]].setdefault(key, []).append(_value(*value))
    return [(i, texts[i], metas[i]) for i in texts]


def _value(text: str | None, integer: int | None, real: float | None, boolean: int | None) -> Any:
    if text is not None:
        return text
    if integer is not None:
        return integer
    if real is not None:
        return real
    return None if boolean is None else bool(boolean)
