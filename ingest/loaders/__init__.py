"""Suffix → loader registry. Each loader turns one file into a Document whose units keep
what a citation needs (page numbers, cue times, speakers, sections)."""

from __future__ import annotations

from pathlib import Path

from ingest.loaders import docx, html, pdf, subtitles, text, whisper  # noqa: F401  (registration)
from ingest.loaders.base import Loader, LoadOptions, registry

__all__ = ["LoadOptions", "Loader", "loader_for", "supported_suffixes"]


def loader_for(path: Path) -> Loader | None:
    return registry.get(path.suffix.lower())


def supported_suffixes() -> list[str]:
    return sorted(registry)
