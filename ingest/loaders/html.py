"""HTML through a real parser: block elements become units, headings become sections."""

from __future__ import annotations

from pathlib import Path

from core.types import Document, MetaValue, Unit
from ingest.loaders.base import LoadOptions, read_text, register

_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_BLOCKS = _HEADINGS | {"p", "li", "pre", "blockquote", "td", "th", "dt", "dd", "figcaption", "caption"}


@register(".html", ".htm")
def load_html(path: Path, options: LoadOptions) -> Document:
    from bs4 import BeautifulSoup

    text, warnings = read_text(path)
    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "nav"]):
        tag.decompose()
    meta: dict[str, MetaValue] = {}
    if soup.title and soup.title.get_text(strip=True):
        meta["title"] = soup.title.get_text(strip=True)
    html_tag = soup.find("html")
    lang = html_tag.get("lang") if html_tag is not None else None
    if isinstance(lang, str) and lang:
        meta["language"] = lang.split("-")[0].lower()
    units: list[Unit] = []
    section: str | None = None
    offset = 0
    for el in soup.find_all(_BLOCKS):
        if el.find(_BLOCKS):
            continue  # its inner blocks are visited on their own
        block = " ".join(el.get_text(" ", strip=True).split())
        if not block:
            continue
        if el.name in _HEADINGS:
            section = block
            meta.setdefault("title", block)
        units.append(Unit(block, offset, offset + len(block), section=section))
        offset += len(block) + 2
    if not units:  # pages made of bare text in <body> or <div>s
        body = soup.get_text("\n")
        for line in (ln.strip() for ln in body.split("\n")):
            if line:
                units.append(Unit(line, offset, offset + len(line)))
                offset += len(line) + 1
    return Document(str(path), "html", units, meta, warnings)
