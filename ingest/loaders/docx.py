"""Word .docx via python-docx: paragraphs as units, Heading styles as sections."""

from __future__ import annotations

from pathlib import Path

from core.errors import InputError
from core.types import Document, MetaValue, Unit
from ingest.loaders.base import LoadOptions, register


@register(".docx")
def load_docx(path: Path, options: LoadOptions) -> Document:
    import docx

    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises zipfile/KeyError/ValueError variants for bad files
        raise InputError(f"cannot read .docx: {type(exc).__name__}: {exc}") from None
    meta: dict[str, MetaValue] = {}
    props = document.core_properties
    if props.title:
        meta["title"] = props.title
    if props.author:
        meta["speaker"] = props.author
    if props.language:
        meta["language"] = props.language.split("-")[0].lower()
    units: list[Unit] = []
    section: str | None = None
    offset = 0
    for para in document.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        style = (para.style.name if para.style is not None else "") or ""
        if style.lower().startswith(("heading", "title")):
            section = text
            meta.setdefault("title", text)
        units.append(Unit(text, offset, offset + len(text), section=section))
        offset += len(text) + 1
    return Document(str(path), "docx", units, meta, warnings=[])
