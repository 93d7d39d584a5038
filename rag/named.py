"""What a question names in the collection: one of its speakers ("¿Cuántas páginas escribió Don
Beyer?", "according to Karan, …") or one of its documents ("en el episodio 266", "in lecture 5",
"tema 3"). Searched as typed, a speaker's name is the question's strongest words and matches every
passage where a turn of that speaker opens ("Don Beyer: …"), while the passage holding the fact,
inside a long turn, has no name to match; a document's number matches nothing, since passages are
embedded without their titles. So each becomes a filter, and the rest of the question is what is
searched."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.text import fold, tokenize

# Said right before the name, these words only attribute: "según Don Beyer", "according to Karan".
_ATTRIBUTION = r"(?:seg[uú]n|according\s+to|de\s+acuerdo\s+con|in\s+the\s+words\s+of)\s+"
_LOOSE = {"a": "aáàä", "e": "eéèë", "i": "iíìï", "o": "oóòö", "u": "uúùü", "n": "nñ", "c": "cç"}
_PART_MIN = 4  # a first or last name alone counts from this length ("Karan", not "Don")
_REST_MIN = 2  # content words the search needs; with fewer the question is about the person


# Words that point at one document of a series, before its number.
_KIND = (r"episod(?:e|es|io|ios)|lectures?|clases?|classes|lecci[oó]n|lecciones|temas?|chapters?|"
         r"cap[ií]tulos?|sessions?|sesi[oó]n|talks?|charlas?|v[ií]deos?|modules?|m[oó]dulos?")  # fmt: skip
# Said before a document's name, these only point at it: "en el episodio 266", "in the lecture".
_LEAD = (r"(?:\b(?:in|on|from|of|en|de|del|seg[uú]n|according\s+to)\s+)?"
         r"(?:\b(?:the|el|la|los|las|this|este|esta)\s+)?")  # fmt: skip
_NUMBERED = re.compile(
    rf"(?i){_LEAD}"
    rf"\b(?P<kind>{_KIND})\s*(?:n[ºo°]\.?\s*|#\s*|number\s+|n[uú]mero\s+)?(?P<n>\d{{1,4}})\b"
)
_TITLE_MIN = 8  # a title typed whole counts from this length ("practical ai 258")


@dataclass(frozen=True)
class Named:
    query: str  # what to search
    speaker: str | None = None  # the speaker the question names, None when it names none (or several)
    document: str | None = None  # the source of the one document it names


def read(question: str, speakers: Iterable[str], titles: dict[str, str]) -> Named:
    """The speaker and the document `question` names (rag.named.speaker_named, document_named)."""
    spoken = speaker_named(question, speakers)
    doc = document_named(spoken.query, titles)
    return Named(doc.query, spoken.speaker, doc.document)


def document_named(question: str, titles: dict[str, str]) -> Named:
    """The one document `question` names: by its title typed whole, or by a number after a word
    such as "episode"/"tema" that one title holds (with that word, or else as its only match).
    The name leaves the search when enough of the question is left; the filter applies anyway
    ("Resume el episodio 266" is about that episode)."""
    words = {source: _words(f"{title} {Path(source).stem}") for source, title in titles.items()}
    source, span = _by_title(question, titles) or _by_number(question, words) or (None, None)
    if source is None or span is None:
        return Named(question)
    rest = _tidy(question[: span[0]] + " " + question[span[1] :])
    return Named(rest if len(tokenize(rest)) >= _REST_MIN else question, document=source)


def _by_title(question: str, titles: dict[str, str]) -> tuple[str, tuple[int, int]] | None:
    """A title of two words or more, typed whole (any case, accents, punctuation)."""
    said = _words(question)
    found = [
        s
        for s, t in titles.items()
        if len(t) >= _TITLE_MIN and len(t.split()) > 1 and f" {_words(t)} " in f" {said} "
    ]
    if len(found) != 1:
        return None
    typed = r"[\W_]+".join(_loose(w) for w in _words(titles[found[0]]).split())
    m = re.search(rf"(?i){_LEAD}{typed}(?!\w)", question)
    return (found[0], m.span()) if m else None


def _by_number(question: str, words: dict[str, str]) -> tuple[str, tuple[int, int]] | None:
    """ "episodio 266": the one title holding "episodio 266" (or "episode 266"), else the one title
    holding the number 266 at all (titles' and file names' words: `words`)."""
    m = _NUMBERED.search(question)
    if m is None:
        return None
    kind, n = fold(m.group("kind"))[:4], int(m.group("n"))
    numbers = {s: [int(x) for x in re.findall(r"\d+", w)] for s, w in words.items()}
    with_kind = [s for s, w in words.items() if re.search(rf"\b{kind}\w*\s+0*{n}\b", w)]
    plain = [s for s, ns in numbers.items() if n in ns]
    found = with_kind if with_kind else plain
    return (found[0], m.span()) if len(found) == 1 else None


def _words(text: str) -> str:
    """Folded words, digits apart from letters: "calculo2_tema3.pdf" → "calculo 2 tema 3 pdf"."""
    spaced = re.sub(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])", " ", fold(text))
    return " ".join(re.findall(r"[^\W_]+", spaced))


def speaker_named(question: str, speakers: Iterable[str]) -> Named:
    """The one speaker `question` names, and the question without the name (and the "según" before
    it). Two speakers named together ("Daniel y Chris") leave the search too, with no speaker
    chosen. A question naming no speaker, two apart, or nothing but the speaker ("¿Quién es Don
    Beyer?") is searched as typed."""
    names = [s for s in speakers if _plausible(s)]
    holders = Counter(part for name in names for part in set(name.split()))  # part → speakers with it
    found = {name: p for name in names if (p := _pattern(name, holders)).search(question)}
    pair = _pair(question, found) if len(found) == 2 else None
    if pair is not None and len(tokenize(pair)) >= _REST_MIN:
        return Named(pair, None)
    if len(found) != 1 or _shared_part_in(question, holders, found):
        return Named(question, None)
    ((name, pattern),) = found.items()
    rest = _tidy(pattern.sub(" ", question))
    if len(tokenize(rest)) < _REST_MIN:
        return Named(question, None)
    return Named(rest, name)


def _pair(question: str, found: dict[str, re.Pattern[str]]) -> str | None:
    """The question without two speakers it names together ("¿Dónde se conocieron Daniel y
    Chris?"): the pair is its subject, the fact may be in either's turns, and their names would
    match every turn they open. None when the names are apart ("What did Chris Benson's guest say
    about Don Beyer?" is about one of them)."""
    spans = sorted(m.span() for p in found.values() for m in p.finditer(question))
    if len(spans) != 2 or not re.fullmatch(r"(?i)\s*(?:,|&|and|y|e)\s*", question[spans[0][1] : spans[1][0]]):
        return None
    return _tidy(question[: spans[0][0]] + " " + question[spans[1][1] :])


def _shared_part_in(question: str, holders: Counter[str], found: dict[str, re.Pattern[str]]) -> bool:
    """Whether the question also says a name part two speakers share ("Chris" of Chris Benson and
    Chris Ortega) outside the name found: a second person it may be about."""
    rest = next(iter(found.values())).sub(" ", question)
    shared = [p for p, n in holders.items() if n > 1 and len(p) >= _PART_MIN and p[:1].isupper()]
    return any(re.search(rf"(?<!\w){_loose(p)}(?!\w)", rest) for p in shared)


def _plausible(name: str) -> bool:
    """A transcript parser's speaker label that is a name, not a stray fragment ("Chris Benson: I")."""
    return 2 < len(name) <= 60 and ":" not in name and any(c.isalpha() for c in name)


def _pattern(name: str, holders: Counter[str]) -> re.Pattern[str]:
    """The whole name in any case or accents (a one-word name only as written: "Break" is a
    speaker in some transcripts, "break" a word), or one of its parts spelt with a capital when no
    other speaker has that part: "Karan", "Malhotra", not "Don" (short) or a shared "Chris"."""
    parts = [p for p in name.split() if len(p) >= _PART_MIN and holders[p] == 1 and tokenize(p)]
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
