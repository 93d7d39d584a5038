"""Plain text and Markdown: front-matter as metadata, headings as section titles.
Files that turn out to be timestamped transcripts are handed to the transcript parser."""

from __future__ import annotations

import re
from pathlib import Path

from core.types import Document, MetaValue, Unit
from ingest.loaders import transcript
from ingest.loaders.base import (
    LoadOptions,
    paragraphs,
    read_text,
    register,
    split_front_matter,
    unescape_markdown,
)

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


@register(".txt", ".md", ".markdown")
def load_text(path: Path, options: LoadOptions) -> Document:
    text, warnings = read_text(path)
    front, body, base = split_front_matter(text)
    meta: dict[str, MetaValue] = {k: v for k, v in front.items() if isinstance(v, MetaValue)}
    for key, value in front.items():  # dates come back from YAML as date objects
        if key not in meta and value is not None and not isinstance(value, (dict, list)):
            meta[key] = str(value)
    if transcript.looks_like_transcript(body):
        units = transcript.parse(body, base)
        return Document(str(path), "transcript", units, meta, warnings)
    units = []
    markdown = path.suffix.lower() != ".txt"
    section: str | None = None
    for para, start, end in paragraphs(body, base):
        heading = _HEADING.match(para) if "\n" not in para else None
        if heading:
            section = heading.group(2).strip()
            if "title" not in meta and len(heading.group(1)) == 1:
                meta["title"] = section
        units.append(Unit(unescape_markdown(para) if markdown else para, start, end, section=section))
    return Document(str(path), "markdown" if markdown else "text", units, meta, warnings)
