"""The archive as the web page browses it: the documents of a collection with their metadata, the
local recordings citations may play, and files uploaded from the page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from core.errors import InputError
from core.store import VectorCollection


def documents(collection: VectorCollection) -> list[dict[str, Any]]:
    """One row per document: title, kind, speakers, date, language, link, chunks (one pass over the
    chunks' metadata, no texts)."""
    rows: dict[str, dict[str, Any]] = {}
    for _, _, meta in collection.iter_records(include_text=False):
        source = str(meta.get("source", ""))
        row = rows.setdefault(
            source,
            {
                "source": source,
                "name": source.rsplit("/", 1)[-1],
                "title": "",
                "kind": meta.get("kind", ""),
                "speakers": [],
                "date": meta.get("date") or "",
                "language": meta.get("language") or "",
                "url": meta.get("url") or "",
                "chunks": 0,
                "first": 1 << 30,
            },
        )
        row["chunks"] += 1
        index = int(meta.get("chunk_index", 0))
        if index < row["first"]:  # the first chunk's title: later ones may carry a section
            row["first"], row["title"] = index, meta.get("title") or row["name"]
        raw = meta.get("speakers") or []
        for speaker in raw if isinstance(raw, list) else [raw]:
            if speaker and speaker not in row["speakers"]:
                row["speakers"].append(speaker)
    for row in rows.values():
        del row["first"]
    return sorted(rows.values(), key=lambda r: (r["date"] or "9999", r["title"].lower()))


def media_file(collection: VectorCollection, url: str) -> Path:
    """The local recording behind a `file://` link that the collection's own chunks carry; any
    other path is refused, so the page cannot be used to read arbitrary files."""
    link = url.split("#", 1)[0]
    parsed = urlparse(link)
    if parsed.scheme != "file" or not collection.get_where({"url": link})[:1]:
        raise InputError("not a recording of this collection")
    path = Path(unquote(parsed.path))
    if not path.is_file():
        raise InputError(f"{path.name}: the recording is no longer there")
    return path


_UNSAFE = re.compile(r"[^\w.\- ()\[\]áéíóúñüÁÉÍÓÚÑÜ]+")


def upload_target(folder: Path, name: str) -> Path:
    """Where an uploaded file is kept: its base name, cleaned, inside `folder`."""
    base = _UNSAFE.sub("_", Path(name.replace("\\", "/")).name).strip(" .")
    if not base:
        raise InputError(f"{name!r} is not a usable file name")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / base
