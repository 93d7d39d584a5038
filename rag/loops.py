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
    return False


def trim_loop(text: str) -> str:
    """`text` without a repetition loop at its end: the repeated piece once, then "…"."""
    match = _TEXT_LOOP.search(text)
    if match is None or len(text) - match.start() < 40:
        return text
    return text[: match.start() + len(match.group(1))].rstrip(" ,;") + "…"
