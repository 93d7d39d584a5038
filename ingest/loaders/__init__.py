"""Suffix → loader registry. Each loader turns one file into a Document whose units keep
what a citation needs (page numbers, cue times, speakers, sections)."""

from __future__ import annotations

from pathlib import Path

from ingest.loaders import docx, html, media, pdf, subtitles, text, whisper  # noqa: F401  (registration)
from ingest.loaders.base import LOADERS, Loader, LoadOptions

__all__ = ["LoadOptions", "Loader", "loader_for", "supported_suffixes"]


def loader_for(path: Path) -> Loader | None:
    entry = LOADERS.get(path.suffix.lower())
    return entry.factory if entry is not None else None


def supported_suffixes() -> list[str]:
    return LOADERS.names()
