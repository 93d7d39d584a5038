"""What a question asks for, where it asks for a quantity, and whether an answer states one.

The fact check (rag.facts) vouches that every number an answer states is in the passage it cites,
not that it is the number asked for. Found as a new user: "How many people filled out the MLOps
survey?" → "100% of the respondents … [1]", where the cited passage says 322 people answered and
also says "100%". A count is not a percentage, a year is not a name. So a question that asks for a
count, a year or a percentage must be answered by a sentence that states one; an answer none of
whose sentences does is replaced by the sentence of the cited passage that states one and is
closest to the question (rag.citations.attribute), and left alone when the passage has none."""

from __future__ import annotations

import re
from typing import Literal

from core.text import fold
from rag.facts import numbers

Kind = Literal["count", "year", "percent"]

# Matched on folded text (lower case, no accents: "cuántos" → "cuantos", "año" → "ano").
_ASKS: list[tuple[Kind, re.Pattern[str]]] = [
    (
        "percent",
        re.compile(
            r"\b(?:what|which)\s+(?:percentage|percent|proportion)\b|\bque\s+(?:porcentaje|proporcion)\b"
        ),
    ),
    ("year", re.compile(r"\b(?:what|which)\s+year\b|\b(?:que|cual)\s+ano\b")),
    (
        "count",
        re.compile(
            r"\bhow\s+many\b|\bcuant[oa]s\b|\ben\s+cuant[oa]s\b"
            r"|\b(?:que|cual\s+(?:es|era|fue)\s+el)\s+(?:numero|cantidad)\s+(?:de|total)\b"
            r"|\bwhat\s+(?:is|was)\s+the\s+(?:number|total\s+number)\s+of\b"
        ),
    ),
]
# A count is also stated in words that are not numerals ("ninguno", "several", "a dozen"), and
# "one" / "una" is one only where it cannot be an article ("una sola vez", "only one").
_COUNT_WORDS = re.compile(
    r"\b(?:none|no\s+one|zero|several|many|few|dozens?|hundreds|thousands|millions|billions|half|twice|once"
    r"|a\s+single|only\s+one|one\s+of|ningun[oa]?|nadie|vari[oa]s|much[oa]s|poc[oa]s|docenas?|decenas"
    r"|cientos|centenares|miles|millares|mitad|doble|una\s+vez|un\s+solo|una\s+sola|un\s+unico|una\s+unica"
    r"|uno|one)\b"
)
_PERCENT = re.compile(
    r"%|\bpor\s*ciento\b|\bper\s*cent\b|\bpercent\b|\bporcentaje\b|\bmitad\b|\bhalf\b|\btercio\b|\bthird\b|\bcuarto\b|\bquarter\b"
)
_PER_CENT = re.compile(r"\b(?:por\s*ciento|per\s*cent|percent)\b")
_SHARE = re.compile(r"[\w.,]+\s*%")
_YEAR = re.compile(
    r"(?<![\d.,])\d{2,4}(?![\d.,]\d)|\b(?:mil|thousand|hundred|cientos|novecientos|ochocientos)\b"
)


def asked_for(question: str) -> Kind | None:
    """The kind of quantity `question` asks for, or None (it asks for something else)."""
    folded = fold(question)
    return next((kind for kind, pattern in _ASKS if pattern.search(folded)), None)


def states(text: str, kind: Kind) -> bool:
    """Whether `text` states a quantity of that kind: a count that is not a percentage, a year, a
    percentage (or a share in words, "la mitad")."""
    folded = fold(text)
    if kind == "percent":
        return bool(_PERCENT.search(folded))
    if kind == "year":
        return bool(_YEAR.search(folded))
    # "por ciento" holds a number word of its own ("ciento"): read as the sign it stands for, and
    # every share ("100%", "cien %") set aside before the numbers are read.
    counted = _SHARE.sub(" ", _PER_CENT.sub(" %", folded))
    return bool(_COUNT_WORDS.search(counted) or numbers(counted))
