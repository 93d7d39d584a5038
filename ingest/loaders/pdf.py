"""PDF via pypdf: one unit per paragraph, each tagged with its 1-based page number."""

from __future__ import annotations

import logging
import re
import unicodedata
from pathlib import Path

from core.errors import InputError
from core.types import Document, MetaValue, Unit
from ingest.loaders.base import LoadOptions, paragraphs, register


@register(".pdf")
def load_pdf(path: Path, options: LoadOptions) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings about odd objects are noise here
    try:
        reader = PdfReader(path)
        # Many PDFs are "encrypted" with an empty user password and open for anyone.
        unlocked = not reader.is_encrypted or reader.decrypt("")
        if not unlocked and not (options.password and reader.decrypt(options.password)):
            hint = "wrong --password" if options.password else "use --password"
            raise InputError(f"password-protected PDF ({hint})")
        pages = [_glyphs(_accents(page.extract_text() or "")) for page in reader.pages]
        info = reader.metadata
    except InputError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise InputError(
            f"cannot read PDF: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None
    units: list[Unit] = []
    empty: list[int] = []
    offset = 0
    for number, page_text in enumerate(pages, start=1):
        if not page_text.strip():
            empty.append(number)
        for para, start, end in paragraphs(page_text, offset):
            units.append(Unit(para, start, end, page=number))
        offset += len(page_text) + 1
    warnings = []
    if empty:
        warnings.append(f"{len(empty)} of {len(pages)} pages have no text layer: {_ranges(empty)}")
    meta: dict[str, MetaValue] = {"pages": len(pages)}
    if info is not None:
        if info.title and str(info.title).strip():
            meta["title"] = str(info.title).strip()
        if info.author and str(info.author).strip():
            meta["speaker"] = str(info.author).strip()
    return Document(str(path), "pdf", units, meta, warnings)


# TeX-made PDFs draw an accent as its own glyph before the letter, and pypdf extracts it that way:
# "inducci´on", "dif´ıcil" (a dotless ı under the accent), "a˜no". Spanish words then match
# neither a Spanish question nor BM25, and the evidence shown reads wrong.
# Only the spacing accent glyphs (never the ASCII backtick or caret of code) right before a letter
# they can sit on.
_SPACING_ACCENT = re.compile(r"([´¨ˆ])([AEIOUaeiouı])|(˜)([NnAaOo])")
_COMBINING = {"´": "\u0301", "˜": "\u0303", "¨": "\u0308", "ˆ": "\u0302"}


def _accents(text: str) -> str:
    """Spacing accents before a letter joined to it ("inducci´on" → "inducción")."""

    def join(m: re.Match[str]) -> str:
        accent, letter = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        return unicodedata.normalize("NFC", ("i" if letter == "ı" else letter) + _COMBINING[accent])

    return _SPACING_ACCENT.sub(join, text)


# Ligatures ("superﬁcie") split an embedder's tokens where the reader typed "fi"; TeX's \neq comes
# out as a fraction slash before "=".
_GLYPHS = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "ft", "ﬆ": "st"})


# A bullet drawn from a font with no Unicode map comes out as U+FFFD ("� Teorema (de Jordan) …"),
# which the evidence under an answer then shows. Inside a line it may stand for a symbol (⊕), so
# only the one opening a line goes.
_BULLET = re.compile(r"^\ufffd[ \t]*", re.M)


def _glyphs(text: str) -> str:
    """Ligatures as their letters, "⁄=" as "≠", unmapped bullets gone."""
    return _BULLET.sub("", text.translate(_GLYPHS).replace("\u2044=", "≠"))


def _ranges(numbers: list[int]) -> str:
    out: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], 0]:
        if n != prev + 1:
            out.append(str(start) if start == prev else f"{start}-{prev}")
            start = n
        prev = n
    return "p. " + ", ".join(out)
