"""Citation markers in a model's answer: which "[n]" names a source and which square brackets
are content (vectors "[1, 0]", "[sic]", indexes), left as written."""

from __future__ import annotations

import re

MARKER = re.compile(r"\s*\[(?:(?:source|fuente)\s*)?(\d+(?:\s*[,;]\s*\d+)*)\]", re.I)
# A bracket right after these reads as a value ("coordenadas [1, 2]", "v = [1, 0]"), not a source.
_VALUE_CONTEXT = re.compile(
    r"(=|\b(vector|vectors|vectores|coordinates|coordenadas|column|columns|columna|columnas|"
    r"matrix|matriz|array|arreglo|entry|entrada|point|punto|index|índice)\s*(\w+\s*){0,2})$",
    re.I,
)


# A marker used as a noun ("mentioned in the text from [1], where …", "está en [2]."): without
# its preposition, so the sentence still reads once the marker moves to its end.
_NOUN_MARKER = re.compile(r"\s+(?:from|in|en|de|desde)\s+(\[\d+\])(?=\s*[,.;:]|\s*$)", re.I)


def split_markers(sentence: str, n_passages: int, literal: str = "") -> tuple[str, list[int]]:
    """(the sentence without its citation markers, the passage indices they name). A bracket is a
    citation only if it names passages that exist, is not written in the sources or the question
    themselves (`literal`), and does not follow a word that introduces a value."""
    cited: list[int] = []
    squeezed = re.sub(r"\s+", "", literal)
    sentence = _NOUN_MARKER.sub(
        lambda m: m.group(0) if _VALUE_CONTEXT.search(sentence[: m.start()].rstrip()) else f" {m.group(1)}",
        sentence,
    )

    def replace(m: re.Match[str]) -> str:
        numbers = [int(x) for x in re.split(r"[,;]\s*", m.group(1).replace(" ", ""))]
        if _VALUE_CONTEXT.search(sentence[: m.start()].rstrip()) or 0 in numbers:
            return m.group(0)
        if len(numbers) == 1:  # "[7]" with three sources is a wrong citation: dropped below
            cited.append(numbers[0] - 1)
            return ""
        copied = re.sub(r"\s+", "", m.group(0)) in squeezed
        if copied or not all(k <= n_passages for k in numbers):
            return m.group(0)  # a vector or list of values, as written in a source
        cited.extend(k - 1 for k in numbers)
        return ""

    plain = MARKER.sub(replace, sentence).strip()
    return plain, list(dict.fromkeys(cited))
