"""What a small model writes around its answer that is not the answer: its own list of sources,
filler about the answer itself, sentences that only point at the sources, a source's label copied
as a clause, lists written as lines."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.context import label
from rag.markers import MARKER
from rag.types import Passage

# Small models often append their own list of sources (or echo the instructions); the sources
# panel already shows them, so such a tail is cut.
_TRAILER = re.compile(
    r"(?:^|\n|(?<=[.!?])\s)\s*(?:\*\*)?(?:Sources?|Fuentes?|References?|Referencias?)(?:\*\*)?\s*:", re.I
)
# A list item's enumerator ("2. Italia", "3) …", "- …") is layout, not a number the answer states.
_ITEM = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•])\s+(?=\S)")
_SHORT_ITEM = 6  # words: a run of items this short is one enumeration ("Francia, Italia y Bélgica")


# Sentences about the answer rather than the subject ("Sure, here is the answer in Spanish:",
# "This answer is based on the information provided"): filler that no source supports.
_FILLER = re.compile(
    r"^(claro|por supuesto|sure|certainly|of course)\b[^.!?:,]{0,40}[:,]\s*"
    r"((aquí tienes|here is|here's)\b[^.!?:]{0,60}:\s*)?"
    r"|^(aquí tienes|here is|here's)\b[^.!?:]{0,60}:\s*"
    r"|(^|(?<=[.!?])\s+)(esta respuesta|this answer|la respuesta anterior|the answer above)\b[^.!?]*"
    r"(basad[ao]|based|se basa)[^.!?]*[.!?]?"
    # The prompt's "citing sources like [1]" copied as a placeholder.
    r"|\s*\[n\]"
    # A chat's history lists each earlier answer's "(sources: label; label)", which the model copies.
    r"|\s*\((?:sources?|fuentes?|references?|referencias?)\s*:[^()\n]*\)",
    re.I,
)


def inline_lists(answer: str) -> str:
    """Lists written as lines, without their enumerators: a run of short items becomes one
    comma-separated sentence, longer items become sentences of their own. Otherwise "2." would
    be checked as a claimed number, and every item cut into sentences of its own."""
    answer = _LONE_ENUMERATOR.sub(r"\1 ", answer)
    lines = [piece for line in answer.split("\n") for piece in _items_of_line(line)]
    out: list[str] = []
    run: list[str] = []
    for line in [*lines, ""]:
        item = _ITEM.match(line)
        if item:
            run.append(line[item.end() :].strip())
            continue
        if run:
            joined = _joined(run)
            while out and not out[-1].strip() and joined[-1:] == ".":
                out.pop()  # "…países:\n\n1. Francia" → one sentence: "…países: Francia, …"
            if out and out[-1].rstrip().endswith(":") and "\n" not in joined:
                out[-1] = f"{out[-1].rstrip()} {joined}"
            else:
                out.append(joined)
            run = []
        out.append(line)
    return "\n".join(out[:-1])


# "1." alone on its line, its item on the next.
_LONE_ENUMERATOR = re.compile(r"^(\s*\d{1,2}[.)])[ \t]*\n+(?=\S)", re.M)
# An enumeration written on one line ("…en: 1. Alemania 2. Holanda").
_INLINE_ITEM = re.compile(r"(?:(?<=\s)|(?<=:)|^)(\d{1,2})\.\s+(?=\S)")


def _items_of_line(line: str) -> list[str]:
    """A line holding an enumeration numbered 1, 2, … as one line per item (after its lead)."""
    found = list(_INLINE_ITEM.finditer(line))
    if len(found) < 2 or [int(m.group(1)) for m in found] != list(range(1, len(found) + 1)):
        return [line]
    ends = [m.start() for m in found[1:]] + [len(line)]
    head = line[: found[0].start()].rstrip()
    return [
        *([head] if head else []),
        *(line[m.start() : end].strip() for m, end in zip(found, ends, strict=True)),
    ]


def _joined(items: list[str]) -> str:
    if all(
        len(i.split()) <= _SHORT_ITEM and not re.search(r"[.!?:;]\S*\s", i.rstrip(".;, ") + " ")
        for i in items
    ):
        bare = [i.rstrip(".;,") for i in items]
        marks = "".join(f" [{m}]" for m in MARKER.findall(bare[-1]))  # they cover the whole list
        return ", ".join([*bare[:-1], MARKER.sub("", bare[-1]).strip()]) + marks + "."
    return "\n".join(i if i[-1:] in ".!?" else f"{i}." for i in items)


_SOURCE_WORD = r"(?:sources?|fuentes?|texto|text|párrafo|paragraph|documentos?|documents?)"
# Sentences that only point at the sources ("Esto se menciona en la fuente [2].", "This is stated
# in source under the section …"): the citation already says where. Left alone when a quote or a
# colon follows (content), and a clause that starts the sentence ("Según la fuente [1], …").
_POINTER = re.compile(
    r"(?:^|(?<=[.!?])\s+)(?:esto|esta información|estos|estas|this|this information|these)\s+"
    r"(?:se menciona|se encuentra|se puede ver|se puede encontrar|se indica|son mencionad[oa]s|"
    r"is stated|is mentioned|can be seen|can be found|is found|are mentioned)\s+(?:en|in)\b"
    # The source named by a word or by its marker, with the time or page of its label ("in [1]
    # at 11:37–15:58"): the colon of a time is not the colon that introduces content.
    r"[^.!?«»\"“”:]*?(?:\b"
    + _SOURCE_WORD
    + r"\b|\[\d+\])(?:[^.!?«»\"“”:]|(?<=\d)[:.](?=\d)|(?<=\bp)\.|(?<=\bpp)\.)*(?:[.!?]|$)"
    # A trailing "según la información proporcionada en el primer source", "citing sources like".
    r"|(?<=\w),?\s+(?:según|de acuerdo con|according to|as stated in|citing)\s+"
    r"(?:la información proporcionada en |los datos proporcionados en |the information (?:provided|given) in )?"
    r"(?:(?:el|la|los|las|the)\s+)?(?:(?:primer[oa]?|segund[oa]|first|second)\s+)?"
    r"(?:" + _SOURCE_WORD + r"(?:\s+like)?)(?:\s+\d+)?(?=\s*(?:\[\d|[.!?]|$))"
    # A relative clause pointing at the place: ", que se encuentra en el párrafo 3 de la fuente [1]".
    r"|(?<=\w),?\s+(?:que|which|that)\s+(?:se encuentra|se menciona|aparece|is found|is mentioned|is stated|appears)"
    r"\s+(?:en|in)\s+(?:(?:el|la|the)\s+)?(?:(?:párrafo|paragraph)\s+\d+(?:\s+(?:de la fuente|of the source)(?:\s+\d+)?)?"
    r"|(?:fuente|source)\s+\d+)(?=\s*(?:\[\d|[.!?]|$))"
    # A closing "Cite sources [1] for more information.", "Para más información, consulta la fuente [2]."
    r"|(?:^|(?<=[.!?])\s+)(?:(?:for more (?:information|details)|para (?:obtener )?más (?:información|detalles)),?\s+)?"
    r"(?:cite|check|see|consult|refer to|consulta|consulte|revisa|revise|véase)\s+(?:(?:the|las?|los)\s+)?"
    + _SOURCE_WORD
    + r"\b[^.!?«»\"“”:]*(?:[.!?]|$)",
    re.I,
)


def strip_trailer(answer: str) -> str:
    """Without a model-appended list of sources, and without filler about the answer itself or
    pointing at the sources."""
    match = _TRAILER.search(answer)
    answer = answer[: match.start()].rstrip() if match and match.start() > 0 else answer
    stripped = _POINTER.sub("", _FILLER.sub("", answer)).strip()
    return stripped[:1].upper() + stripped[1:] if stripped else answer


# "According to [1], X." → "X [1].": the marker is kept, at the end where markers go; left in
# place, the clause read "According to, X" once the marker moved.
_ACCORDING_TO = (
    r"(^|(?<=[.!?])\s+)(?:according to|as (?:stated|said) in|según|de acuerdo con)\s+(?:(?:the|el|la)\s+)?"
)
_MARKER_CLAUSE = re.compile(
    _ACCORDING_TO + r"(?:(?:source|fuente)s?\s+)?((?:\[\d+\]\s*)+),\s*([^.!?]*)([.!?]|$)",
    re.IGNORECASE,
)


def without_label_clauses(answer: str, passages: Sequence[Passage]) -> str:
    """Without an opening "According to practical ai 273 — Ramin Mohammadi — 0:00–7:02, " or
    "According to [1], ": the model copies the prompt's label of a source, which its citation
    shows already."""
    answer = _MARKER_CLAUSE.sub(
        lambda m: (
            f"{m.group(1)}{m.group(3)[:1].upper()}{m.group(3)[1:].rstrip()} {m.group(2).strip()}{m.group(4) or '.'}"
        ),
        answer,
    )
    names = {n for p in passages for n in (label(p.chunks), p.first.title) if n and len(n) > 3}
    if not names:
        return answer
    # A label copied from an earlier turn names other speakers: any parts, then its time range.
    timed = r"(?:\s+—\s+[^—]+?)*\s+—\s+\d[\d:]*[–-]\d[\d:]*"
    alternatives = "|".join(rf"{re.escape(n)}(?:{timed})?" for n in sorted(names, key=len, reverse=True))
    clause = re.compile(
        _ACCORDING_TO + rf"(?:(?:source|fuente|episode|episodio|talk|charla)\s+)?(?:{alternatives})\s*,\s*",
        re.IGNORECASE,
    )
    out, at = [], 0
    for m in clause.finditer(answer):
        out += [answer[at : m.start()], m.group(1), answer[m.end() : m.end() + 1].upper()]
        at = m.end() + 1
    return ("".join(out) + answer[at:]).strip()
