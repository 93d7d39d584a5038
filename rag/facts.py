"""Checkable facts in an answer sentence: the numbers (digits or words, English and Spanish) and
the names it states. A fact is supported when it occurs in the passage the sentence cites (or in
the question: repeating what was asked is not a claim). Numbers are compared by value, so
"ocho" matches "8" and "210.000" matches "210000" (either decimal convention is tried)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.text import fold, guess_language

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
    "hundred": 100, "thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000,
    "cero": 0, "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6,
    "siete": 7, "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12, "trece": 13,
    "catorce": 14, "quince": 15, "dieciseis": 16, "diecisiete": 17, "dieciocho": 18,
    "diecinueve": 19, "veinte": 20, "treinta": 30, "cuarenta": 40, "cincuenta": 50, "sesenta": 60,
    "setenta": 70, "ochenta": 80, "noventa": 90, "cien": 100, "ciento": 100, "mil": 1000,
    "millon": 1_000_000, "millones": 1_000_000,
}  # fmt: skip
# "one"/"una" are as often articles as numbers: they support a claim but are never one.
_NOT_CLAIMS = {"one", "uno", "una"}
_NUMBER = re.compile(
    r"(?<![\w.,])\d{1,3}(?:[.,\s]\d{3})+(?:[.,]\d+)?(?![\w])|(?<![\w.,])\d+(?:[.,]\d+)?(?![\w])"
)
_WORD = re.compile(r"\w+")
# A capitalised word that does not open the sentence, or an acronym anywhere: a name.
_NAME = re.compile(r"(?<![.!?¿¡]\s)(?<!^)\b([A-ZÁÉÍÓÚÑ][\w'’-]+)|\b([A-Z]{2,}\d*)\b")
_MARK = re.compile(r"\[\d+(?:\s*[,;]\s*\d+)*\]")
_TRIVIAL_NAMES = {"i", "según", "according", "sources", "source", "fuente", "fuentes"}
# Hyphens and apostrophes, with any spaces around them: tokenised text ("Sakharov 's",
# "Mary - Louise", common in Wikipedia dumps and some PDF text) states the same name as the answer's
# "Sakharov's" and "Mary-Louise".
_JOINER = re.compile(r"\s*[-‐‑'’]\s*")
_POSSESSIVE = re.compile(r"['’]s?$", re.IGNORECASE)


def _values(token: str) -> set[float]:
    """A numeral's possible values: '210.000' → {210000, 210.0}; '1,52' → {1.52, 152}."""
    plain = token.replace(" ", "")
    out: set[float] = set()
    for thousands, decimal in ((".", ","), (",", ".")):
        candidate = plain.replace(thousands, "").replace(decimal, ".")
        try:
            out.add(float(candidate))
        except ValueError:
            continue
    return out


def numbers(text: str) -> dict[str, set[float]]:
    """Each number stated in `text` (as written) → its possible values."""
    found = {m.group(0): _values(m.group(0)) for m in _NUMBER.finditer(text)}
    for word in _WORD.findall(fold(text)):
        if word in _UNITS and word not in _NOT_CLAIMS:
            found[word] = {float(_UNITS[word])}
    return found


def _all_values(text: str) -> set[float]:
    values = {v for vs in numbers(text).values() for v in vs}
    return values | {float(_UNITS[w]) for w in _WORD.findall(fold(text)) if w in _UNITS}


def shared_numbers(claim: str, text: str) -> int:
    """How many of the numbers `claim` states occur (by value) in `text`."""
    values = _all_values(text)
    return sum(1 for token, vals in numbers(_MARK.sub(" ", claim)).items() if vals & values)


def names(text: str) -> set[str]:
    out = set()
    for m in _NAME.finditer(text):
        word = m.group(1) or m.group(2)
        if fold(word) not in _TRIVIAL_NAMES:
            out.add(word)
    return out


@dataclass(frozen=True)
class Check:
    unsupported: list[str]  # facts of the sentence found in none of the allowed texts

    @property
    def ok(self) -> bool:
        return not self.unsupported


def check(sentence: str, *sources: str, names_from: str = "", lang: str | None = None) -> Check:
    """Which numbers and names of `sentence` occur in none of `sources` (passage, question).
    `names_from` (titles, speakers, labels) vouches for names only: the numbers in a title or a
    time label ("Lecture 07", "12:00") are not evidence for a number in the answer, except where
    the answer says where ("en la página 10", "at 33:10") and the label holds that place.
    `lang`: the sentence's language; a source written in the other one may hold a name translated
    (rag.facts._translated)."""
    sentence = _located(_MARK.sub(" ", sentence), names_from)  # citation markers are not facts
    for title in {t.strip() for t in names_from.splitlines() if len(t.strip()) > 3}:
        # "as said in practical ai 262": naming the source is a reference, not a claim.
        sentence = re.sub(re.escape(title), " ", sentence, flags=re.IGNORECASE)
    allowed = " \n ".join(sources)
    values = _all_values(allowed)
    everything = f"{allowed}\n{names_from}"
    # Joined for "Mary - Louise" = "Mary-Louise"; spaced so "Hudaybi" still opens a word of "al-Hudaybi".
    folded = f"{_joined(everything)}\n{_JOINER.sub(' ', fold(everything))}"
    foreign = _LETTERS.findall(" ".join(s for s in sources if lang and guess_language(s) not in (lang, None)))
    missing = [token for token, vals in numbers(sentence).items() if not vals & values]
    missing += [
        name
        for name in sorted(names(sentence))
        if not (_named_in(name, folded) or _initials_of(name, allowed) or _translated(name, foreign))
    ]
    return Check(missing)


# Where a passage is: its label's pages ("notes.pdf pp. 9–10") and times ("32:09–36:26").
_LABEL_PAGES = re.compile(r"\bpp?\. (\d+)(?:–(\d+))?")
_LABEL_TIMES = re.compile(r"((?:\d+:)?\d{1,2}:\d{2})(?:–((?:\d+:)?\d{1,2}:\d{2}))?")
# Where an answer says a fact is: a page, a clock time or a minute.
_PAGE_REF = re.compile(r"\b(?:p[áa]ginas?|pages?|p[áa]g\.|pp?\.)\s*(\d+)", re.I)
_CLOCK_REF = re.compile(r"(?<![\d:])((?:\d+:)?\d{1,2}:\d{2})(?![\d:])")
_MINUTE_REF = re.compile(r"\b(?:minutos?|minutes?|min\.)\s*(\d{1,3})\b", re.I)


def _seconds(clock: str) -> int:
    total = 0
    for part in clock.split(":"):
        total = total * 60 + int(part)
    return total


def _located(sentence: str, labels: str) -> str:
    """`sentence` without the pages and times it names that the cited passages' labels hold: the
    model read them in the label ("El teorema está en la página 10"), and they are right."""
    pages = {n for m in _LABEL_PAGES.finditer(labels) for n in range(int(m[1]), int(m[2] or m[1]) + 1)}
    spans = [(_seconds(m[1]), _seconds(m[2] or m[1])) for m in _LABEL_TIMES.finditer(labels)]

    def held(m: re.Match[str], lo: int, hi: int) -> str:
        """Gone when [lo, hi] (seconds) overlaps a label's span."""
        return " " if any(lo <= b and hi >= a for a, b in spans) else m[0]

    sentence = _PAGE_REF.sub(lambda m: " " if int(m[1]) in pages else m[0], sentence)
    sentence = _CLOCK_REF.sub(lambda m: held(m, _seconds(m[1]), _seconds(m[1])), sentence)
    return _MINUTE_REF.sub(lambda m: held(m, int(m[1]) * 60, int(m[1]) * 60 + 59), sentence)


def _named_in(name: str, folded: str) -> bool:
    """Whether `folded` names `name`, its possessive or plural ("Jacobians", "GPUs") counting as
    the name itself: the model pluralises a term its passage states once. A long name may close
    up the passage's spaces ("OpenAI" for a transcript's "Open AI")."""
    bare = _joined(_POSSESSIVE.sub("", name))
    if _at_word_start(bare, folded, whole=name.isupper()):
        return True
    if len(bare) > 3 and bare.endswith("s") and _at_word_start(bare[:-1], folded, whole=name[:-1].isupper()):
        return True
    spaced = r"\s?".join(re.escape(c) for c in bare)
    return len(bare) >= 5 and re.search(rf"(?<![^\W_]){spaced}", folded) is not None


def _at_word_start(bare: str, folded: str, *, whole: bool) -> bool:
    """`bare` opens a word of `folded` (the passage may add a plural or possessive: "Jacobians");
    an acronym is a whole word (a plural "s" aside), or "CIA" would be found in "especially"."""
    end = r"s?(?![^\W_])" if whole else ""
    return re.search(rf"(?<![^\W_]){re.escape(bare)}{end}", folded) is not None


_LETTERS = re.compile(r"[^\W\d_]+")


def _initials_of(name: str, text: str) -> bool:
    """An acronym the passage spells out in capitalised words: "DoD" for "Department of Defense"
    (words in between may be lower-case; the first and last may not, or "NSA" would be found in
    "not so about")."""
    if not 2 <= len(name) <= 6 or not name.isalpha() or sum(c.isupper() for c in name) < 2:
        return False
    acronym, words, n = fold(name), _LETTERS.findall(text), len(name)
    return any(
        words[i][0].isupper()
        and words[i + n - 1][0].isupper()
        and "".join(fold(w)[0] for w in words[i : i + n]) == acronym
        for i in range(len(words) - n + 1)
    )


def _translated(name: str, foreign: list[str]) -> bool:
    """Whether a passage in another language states `name` translated: a cognate (its first five
    letters: "Departamento de Defensa" for "Department of Defense") or an acronym in the other
    word order ("IA" for "AI", "ADN" for "DNA"). A person's or product's name is written the same in
    both languages and must occur as it is. `foreign`: the words of the passages in the other
    language."""
    bare = fold(name)
    if name.isupper() and name.isalpha():
        letters = sorted(bare)
        return any(sorted(fold(w)) == letters for w in foreign if w.isupper())
    return len(bare) >= 5 and any(fold(w).startswith(bare[:5]) for w in foreign)


def _joined(text: str) -> str:
    """Folded, hyphens and apostrophes dropped with the spaces around them: how a name is compared."""
    return _JOINER.sub("", fold(text))
