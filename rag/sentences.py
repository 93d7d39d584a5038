"""An answer's or a passage's sentences, and the line breaks a PDF keeps inside them."""

from __future__ import annotations

import re

# A sentence ends at . ! ? and a space, or a line break; not after a title ("Dr. Alice Moreno"),
# a single Latin letter ("a. C.", "U.S.", "e.g."; a Greek one is a variable: "… < δ. Será") or a
# doubled capital of a Spanish plural ("EE. UU.").
_BOUNDARY = re.compile(r"(?<=[.!?])\s+|\n+")
# A line break inside a sentence: PDF text keeps the page's lines ("pues representan\nvectores"),
# and a quote cut at them is a fragment. Headings and list items start their line with a capital,
# a digit or a bullet, so they stay apart. Replaced one for one, so offsets still match the chunk.
_WRAP = re.compile(
    # A formula goes on on the next line too ("… mínimo, es decir\n∃x1,x2 ∈M : f(x1) ≤f(x) …").
    r"(?<=[a-záéíóúñü,;])\n(?=[a-záéíóúñü∃∀∑∏∫√‖|(\[{−=<>≤≥∈⊂∪∩→⇒⇔αβγδελμπσφω])|(?<=,)\n(?=[^\s])"
)
_ABBREVIATION = re.compile(
    r"(?:\b(?:Dr|Mr|Mrs|Ms|Sr|Sra|Srta|Dra|Prof|vs|ej|St|Jr)|(?<!\w)[A-Za-zÁÉÍÓÚáéíóúÑñ]|\b([A-Z])\1)\.$"
)


def sentences_of(text: str, *, quotes: bool = False) -> list[str]:
    """`text`'s sentences. `quotes` (an answer's text): a quotation that closes later on the same
    line is one sentence with the words around it, whatever stops it holds ('Chris said "we are
    45 minutes away. " and left'), or each piece would get its own citation marker."""
    pieces, start = [], 0
    for m in _BOUNDARY.finditer(text):
        if "\n" not in m.group() and (
            _ABBREVIATION.search(text, start, m.start()) or (quotes and _inside_quotation(text, start, m))
        ):
            continue
        pieces.append(text[start : m.start()])
        start = m.end()
    pieces.append(text[start:])
    return [s.strip() for s in pieces if s.strip()]


_QUOTE_PAIRS = (('"', '"'), ("«", "»"), ("“", "”"))
_QUOTE_REACH = 400  # characters: further on, an unclosed quote mark is a stray one


def _inside_quotation(text: str, start: int, boundary: re.Match[str]) -> bool:
    """Whether the sentence begun at `start` has a quotation open at `boundary`, closed later on
    the same line."""
    before = text[start : boundary.start()]
    line_end = text.find("\n", boundary.end())
    after = text[
        boundary.end() : min(line_end if line_end >= 0 else len(text), boundary.end() + _QUOTE_REACH)
    ]
    for opens, closes in _QUOTE_PAIRS:
        still_open = (
            before.count(opens) % 2 == 1 if opens == closes else before.count(opens) > before.count(closes)
        )
        if still_open and closes in after:
            return True
    return False


def unwrapped(text: str) -> str:
    """`text` with the line breaks inside its sentences made spaces, one character for one."""
    return _WRAP.sub(" ", text)
