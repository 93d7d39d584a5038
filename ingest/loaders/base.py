"""Shared loader plumbing: the registry, options, and safe text decoding."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import InputError
from core.registry import Registry
from core.types import Document
from ingest.metadata import load_yaml

if TYPE_CHECKING:
    from ingest.media import MediaTranscripts

# Two bytes that real text files essentially never contain; used to refuse binaries renamed .txt.
_BINARY_SNIFF = 8192


@dataclass(frozen=True)
class LoadOptions:
    password: str | None = None
    # A slow loader (transcription) reports where it is, e.g. "12:30 / 58:00 audio".
    on_progress: Callable[[str], None] | None = None
    transcripts: MediaTranscripts | None = None  # audio and video need one
    sha256: str | None = None  # of the file, when the caller has it (keys the transcript cache)
    plan_only: bool = False  # a dry run: check the file, do nothing slow (no transcription)
    language: str | None = None  # what sidecar or folder metadata says (a transcriber's hint)


Loader = Callable[[Path, LoadOptions], Document]
# Keyed by file suffix; the factory is the loader itself, called as loader(path, options).
LOADERS: Registry[Document] = Registry("loader")


def register(*suffixes: str) -> Callable[[Loader], Loader]:
    return LOADERS.register(*suffixes)


def read_text(path: Path) -> tuple[str, list[str]]:
    """Decode a text file. UTF-8 (with or without BOM) first; legacy Windows-1252 text, common in
    older Spanish course material, is decoded with a warning rather than dropped."""
    data = path.read_bytes()
    if b"\x00" in data[:_BINARY_SNIFF]:
        raise InputError("binary data, not text")
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise InputError(f"not UTF-8 text (invalid byte at offset {exc.start})") from None
        return text, [f"not UTF-8 (invalid byte at offset {exc.start}); decoded as Windows-1252"]


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)


def split_front_matter(text: str) -> tuple[dict[str, object], str, int]:
    """YAML front-matter → (metadata, body, offset of body in text)."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text, 0
    try:
        data = load_yaml(match.group(1)) or {}
    except ValueError as exc:
        raise InputError(f"invalid YAML front-matter: {exc}") from None
    if not isinstance(data, dict):
        return {}, text, 0
    return data, text[match.end() :], match.end()


_PARA = re.compile(r"\S(?:.*?)(?=\n[ \t]*\n|\Z)", re.S)


def paragraphs(text: str, base: int = 0) -> list[tuple[str, int, int]]:
    """Blank-line separated paragraphs with their character offsets (offset by base)."""
    return [(m.group(0).strip(), base + m.start(), base + m.end()) for m in _PARA.finditer(text)]


# Markdown's backslash escapes ("\[laughs\]", "\*"): the reader of a quote and the model should
# see the character, not the escape. Not "\\", "\{", "\(": in notes with LaTeX they are math.
_MD_ESCAPE = re.compile(r"\\([`*_\[\]#+\-.!|<>~])")


def unescape_markdown(text: str) -> str:
    return _MD_ESCAPE.sub(r"\1", text)
