"""Sentences the sources do not hold. A small model that has the right passage still pads its answer
with its own knowledge ("Estas sanciones incluyen prohibir la importación de petróleo…") or, given
a passage it did not understand, writes a generic paragraph instead of the passage's answer. Such a
sentence has no number or name for rag.facts to check, so it is judged by its words: most of what it
adds to the question must occur in the passages (when they are written in its language)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.text import STOPWORDS, fold, guess_language

_WORD = re.compile(r"\w+")
# The sources do not answer ("The sources do not mention…", "No se proporciona información…").
REFUSAL = re.compile(
    r"(do(es)? not (contain|mention|say|provide|specify)|don't know|not (found|mentioned|in the sources)|"
    r"cannot (find|answer|determine)|(don't|do not) have (the |enough |any )?(information|data)|"
    r"no (contienen|mencionan|sé|lo sé|aparece|proporcionan|especifican)|no se (menciona|especifica|indica|proporciona)|"
    r"no encuentro|no tengo (la |suficiente |ninguna )?(información|capacidad|datos)|"
    r"no (puedo|es posible) (responder|determinar|saber)|no hay información)",
    re.I,
)
_STEM = 5  # letters two words share to count as one ("consumir"/"consumo", "funciones"/"función")
MIN_SHARE = 0.5  # of the sentence's new words that the sources must hold
MIN_UNHELD = 2


# Words about the sources rather than the subject ("According to source, …", "Según el texto, …"):
# an answer that names where it read something adds nothing the passages should hold.
_ABOUT_SOURCES = frozenset(
    [
        "source",
        "sources",
        "fuente",
        "fuentes",
        "text",
        "texto",
        "textos",
        "document",
        "documents",
        "documento",
        "documentos",
        "passage",
        "passages",
        "pasaje",
        "according",
        "segun",
        "based",
        "basado",
        "basada",
        "basandome",
        "information",
        "informacion",
        "provided",
        "proporcionada",
        "proporcionado",
        "proporcionados",
        "proporcionadas",
        "mentioned",
        "menciona",
        "mencionado",
        "mencionan",
        "stated",
        "states",
        "say",
        "says",
        "dice",
        "dicen",
    ]
)


def _content(text: str) -> list[str]:
    """Content words, folded; numbers are rag.facts' to check."""
    return [
        w
        for w in _WORD.findall(fold(text))
        if w not in STOPWORDS and w not in _ABOUT_SOURCES and not w.isdigit()
    ]


def held(words: Sequence[str], pool: set[str]) -> list[str]:
    """The words that `pool` holds, as written or sharing their first _STEM letters."""
    stems = {w[:_STEM] for w in pool if len(w) >= _STEM}
    return [w for w in words if w in pool or (len(w) >= _STEM and w[:_STEM] in stems)]


def new_words(sentence: str, question: str) -> list[str]:
    """The sentence's content words that the question did not already say."""
    asked = set(_content(question))
    return [w for w in dict.fromkeys(_content(sentence)) if not held([w], asked)]


def source_words(sources: Sequence[str], lang: str) -> set[str] | None:
    """The passages' content words, read once per answer; None when answers in `lang` cannot be
    judged by them: a passage is in another language (an answer over an English passage uses
    other words by design)."""
    if any(guess_language(s) not in (lang, None) for s in sources):
        return None
    return set(_content(" ".join(sources)))


def unheld_words(sentence: str, question: str, pool: set[str]) -> list[str]:
    """The sentence's new words that the passages' words (`pool`) do not hold."""
    return _unheld(new_words(sentence, question), pool)


def _unheld(added: list[str], pool: set[str]) -> list[str]:
    found = set(held(added, pool))
    return [w for w in added if w not in found]


def ungrounded(sentence: str, question: str, pool: set[str]) -> bool:
    """Most of what the sentence adds to the question, and at least MIN_UNHELD words of it, is in
    none of the passages. One word alone is left to rag.facts and rag.concise: it is the answer
    itself or a word about it ("The answer is 152")."""
    if REFUSAL.search(sentence):  # about the sources, not the subject: a hedge the user should read
        return False
    added = new_words(sentence, question)
    missing = _unheld(added, pool)
    return len(missing) >= MIN_UNHELD and (len(added) - len(missing)) / len(added) < MIN_SHARE
