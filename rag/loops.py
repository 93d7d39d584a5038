"""Degenerate repetition: a greedy small model can fall into a loop ("como ves que ves que ves
que …", seen in a held-out chat answer) and repeat a few tokens until the token limit. The loop is
stopped as soon as it is certain, and cut from the answer, so the user neither waits for it nor
reads it."""

from __future__ import annotations

import re
from collections.abc import Sequence

# A cycle must cover this many tokens, in at least MIN_CYCLES repeats, before it is a loop: a zero
# vector or an identity matrix repeats a short cycle a few times and is not one.
MIN_SPAN = 24
MIN_CYCLES = 4
_MAX_PERIOD = 16
# The text form: a piece of up to 80 characters repeated at least 4 times, then at most a partial
# piece, up to the end (where the token limit or the stop left it).
_TEXT_LOOP = re.compile(r"(.{2,80}?)\1{3,}.{0,80}$", re.DOTALL)
# A long cycle (two sentences of the source copied again and again, seen in a chat answer) has no
# short period; it shows as a run of this many tokens (characters, in the text) that the answer
# already wrote word for word, which no answer does on purpose.
_LONG_RUN = 32
_LONG_TEXT = 100


def looping(ids: Sequence[int]) -> bool:
    """Whether the tail of `ids` is one short cycle repeated: at least MIN_CYCLES times and
    MIN_SPAN tokens."""
    for period in range(1, _MAX_PERIOD + 1):
        cycles = max(MIN_CYCLES, -(-MIN_SPAN // period))
        span = period * cycles
        if len(ids) < span:
            break
        tail = list(ids[-span:])
        if tail == tail[:period] * cycles:
            return True
    return _written_before(list(ids))


def _written_before(ids: list[int]) -> bool:
    """Whether the last _LONG_RUN tokens already occur, in order, earlier in `ids`."""
    tail = ids[-_LONG_RUN:]
    starts = range(len(ids) - _LONG_RUN)
    return len(ids) >= 2 * _LONG_RUN and any(
        ids[s : s + _LONG_RUN] == tail for s in starts if ids[s] == tail[0]
    )


def trim_loop(text: str) -> str:
    """`text` without a repetition loop at its end: a short piece once, then "…"; a long one cut
    where its second copy starts."""
    match = _TEXT_LOOP.search(text)
    if match is not None and len(text) - match.start() >= 40:
        return text[: match.start() + len(match.group(1))].rstrip(" ,;") + "…"
    again = next(
        (i for i in range(1, len(text) - _LONG_TEXT) if text.find(text[i : i + _LONG_TEXT]) < i), None
    )
    return text if again is None else _ended(text[:again])


# Words a cut sentence may be left hanging on ("… por primera vez en 1973 y").
_DANGLING = re.compile(
    r"(?:[\s,;:]+|\b(?:y|e|o|u|que|de|del|el|la|los|las|en|and|or|that|which|of|the|in)\b)+$", re.I
)


def _ended(text: str) -> str:
    """`text` cut where a repeat began: a sentence left unfinished loses its hanging words, "…"."""
    text = text.rstrip()
    if not text or text[-1] in '.!?»"”)]':
        return text
    return _DANGLING.sub("", text) + "…"
