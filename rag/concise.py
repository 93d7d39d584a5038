"""Concise answers to questions that ask for a fact.

A small model answers a factual question in its first sentence, then pads: a second sentence
about a neighbouring passage ("This is stated in source […] [2]", a related fact from another
paragraph). That padding carried most of the citations that pointed at a passage without the
answer (README: "Concise answers"). So for a question that does not ask for an explanation, an
answer sentence that cites a passage the first cited sentence does not is dropped; sentences that
cite the same passages, or none, stay. Why/how/explain questions, several questions in one and
requests for a list keep every sentence.

An answer can also say nothing at all: asked "El colono Elie Prioleau era de la ciudad
francesa…", the model wrote "El colono Elie Prioleau era de la ciudad francesa [1]." — the
question back, with a citation that makes it look answered. `restates` finds such sentences."""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.text import STOPWORDS, fold
from rag.grounding import held

_EXPLANATION = re.compile(
    r"\b(?:why|how(?!\s+(?:many|much|long|old|far|often|big|large|tall|high|fast|soon)\b)"
    r"|explain\w*|describe\w*|compar\w+|differen\w+|por\s+qu[ée]|c[óo]mo(?!\s+se\s+llam)"
    r"|expli\w+|descri\w+|diferencia\w*|ventajas|advantages)\b",
    re.IGNORECASE,
)
# Two questions in one ("which settings and which tricks"), or a list asked for.
_SEVERAL = re.compile(
    r"\b(?:and|or|y|e|o)\s+(?:which|what|who|where|when|qu[ée]|cu[áa]l(?:es)?|qui[ée]n(?:es)?|d[óo]nde|cu[áa]ndo)\b"
    r"|\b(?:list|enumerate|enumera|lista|menciona|name\s+(?:all|the|some|two|three))\b",
    re.IGNORECASE,
)


def asks_for_more_than_a_fact(question: str) -> bool:
    """An explanation, several questions in one, or a list: every sentence of the answer stays."""
    return bool(_EXPLANATION.search(question) or _SEVERAL.search(question))


def kept_sentences(cited: Sequence[Sequence[int]]) -> list[bool]:
    """For each answer sentence (the passages it cites), whether a concise answer keeps it."""
    anchor = next((set(c) for c in cited if c), None)
    if anchor is None:
        return [True] * len(cited)
    return [set(c) <= anchor for c in cited]


_WORD = re.compile(r"\w+")
# Kept as content: "Sí, …" / "No, …" answers a yes/no question that the rest of the sentence repeats.
_ANSWER_WORDS = frozenset({"si", "no", "not", "yes", "nunca", "never"})


def _content(text: str) -> list[str]:
    """Content words, folded. A word in capitals counts even where its letters spell a stopword:
    asked what ARPANET's first message said, "decía «LO»" answers, though "lo" is a pronoun."""
    words = _WORD.findall(text)
    return [
        f
        for w in words
        if (f := fold(w)) not in STOPWORDS or f in _ANSWER_WORDS or (len(w) > 1 and w.isupper())
    ]


def restates(sentence: str, question: str) -> bool:
    """Every content word of the sentence is one of the question's (or shares its first five
    letters: "excluya"/"excluye"): the sentence adds nothing the question did not say."""
    words = _content(sentence)
    return bool(words) and len(held(words, set(_content(question)))) == len(words)
