"""A question that names one of the collection's speakers ("¿Cuántas páginas escribió Don Beyer?",
"according to Karan, …") asks what that speaker said. Searched as typed, the name is the
question's strongest words and matches every passage where a turn of that speaker opens ("Don
Beyer: …"), while the passage holding the fact, inside a long turn, has no name to match. So the
name becomes a speaker filter and the rest of the question is what is searched."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from core.text import fold, tokenize

# Said right before the name, these words only attribute: "según Don Beyer", "according to Karan".
_ATTRIBUTION = r"(?:seg[uú]n|according\s+to|de\s+acuerdo\s+con|in\s+the\s+words\s+of)\s+"
_LOOSE = {"a": "aáàä", "e": "eéèë", "i": "iíìï", "o": "oóòö", "u": "uúùü", "n": "nñ", "c": "cç"}
_PART_MIN = 4  # a first or last name alone counts from this length ("Karan", not "Don")
_REST_MIN = 2  # content words the search needs; with fewer the question is about the person


@dataclass(frozen=True)
class Named:
    query: str  # what to search
    speaker: str | None  # the speaker the question names, None when it names none (or several)


def speaker_named(question: str, speakers: Iterable[str]) -> Named:
    """The one speaker `question` names, and the question without the name (and the "según" before
    it). A question naming no speaker, two of them, or nothing but the speaker ("¿Quién es Don
    Beyer?") is searched as typed."""
    names = [s for s in speakers if _plausible(s)]
    found = {name: p for name in names if (p := _pattern(name, names)).search(question)}
    if len(found) != 1 or _shared_part_in(question, names, found):
        return Named(question, None)
    ((name, pattern),) = found.items()
    rest = _tidy(pattern.sub(" ", question))
    if len(tokenize(rest)) < _REST_MIN:
        return Named(question, None)
    return Named(rest, name)


def _shared_part_in(question: str, names: list[str], found: dict[str, re.Pattern[str]]) -> bool:
    """Whether the question also says a name part two speakers share ("Chris" of Chris Benson and
    Chris Ortega) outside the name found: a second person it may be about."""
    rest = next(iter(found.values())).sub(" ", question)
    seen: dict[str, int] = {}
    for name in names:
        for part in set(name.split()):
            seen[part] = seen.get(part, 0) + 1
    shared = [p for p, n in seen.items() if n > 1 and len(p) >= _PART_MIN and p[:1].isupper()]
    return any(re.search(rf"(?<!\w){_loose(p)}(?!\w)", rest) for p in shared)


def _plausible(name: str) -> bool:
    """A transcript parser's speaker label that is a name, not a stray fragment ("Chris Benson: I")."""
    return 2 < len(name) <= 60 and ":" not in name and any(c.isalpha() for c in name)


def _pattern(name: str, names: list[str]) -> re.Pattern[str]:
    """The whole name in any case or accents (a one-word name only as written: "Break" is a
    speaker in some transcripts, "break" a word), or one of its parts spelt with a capital when no
    other speaker has that part: "Karan", "Malhotra", not "Don" (short) or a shared "Chris"."""
    others = {p for n in names if n != name for p in n.split()}
    parts = [p for p in name.split() if len(p) >= _PART_MIN and p not in others and tokenize(p)]
    whole = rf"(?i:{_loose(name)})" if len(name.split()) > 1 else _loose(name)
    alternatives = [whole, *(_loose(p) for p in parts if p[:1].isupper())]
    body = "|".join(alternatives)
    return re.compile(rf"(?:(?i:{_ATTRIBUTION}))?(?<!\w)(?:{body})(?:['’]s)?(?!\w)")


def _loose(text: str) -> str:
    """`text` as a regex that also matches it with or without accents."""
    out = []
    for ch in text:
        low = fold(ch) if len(fold(ch)) == 1 else ch.lower()
        if low in _LOOSE:
            variants = _LOOSE[low] + (_LOOSE[low].upper() if ch.isupper() else "")
            out.append(f"[{variants}]")
        elif ch.isspace():
            out.append(r"\s+")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s*,\s*(?=[?.!]|$)", "", text)  # "…dataset, according to X?" → "…dataset?"
    text = re.sub(r"\s+([?.!,;:])", r"\1", text)
    text = re.sub(r"^([¿¡]?)[\s,;:]+", r"\1", text)  # "According to X, how many…" → "how many…"
    return text.strip()
