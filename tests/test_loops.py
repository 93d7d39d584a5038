"""Repetition loops of a greedy model (rag/loops.py): stopped when certain, cut from the answer."""

from __future__ import annotations

import pytest

from rag.loops import looping, trim_loop


def test_a_short_cycle_repeated_over_the_span_is_a_loop() -> None:
    assert looping([5, 6] * 12) and looping([9] * 24) and looping([1, 2, 3] + [7, 8, 9] * 8)
    assert not looping([5, 6] * 11)  # 22 tokens: not yet certain
    assert not looping(list(range(40)))
    assert not looping([0, 11] * 4 + [3])  # a zero vector: a few repeats, then the text goes on


@pytest.mark.parametrize(
    ("text", "trimmed"),
    [
        (
            "No necesitas ajustar la tasa de aprendizaje como ves que ves que ves que ves que ves que"
            " ves que ves que ves que ves que ves que ves que v",
            "No necesitas ajustar la tasa de aprendizaje como ves que…",
        ),
        ("The identity is [1, 0, 0, 0] [0, 1, 0, 0].", "The identity is [1, 0, 0, 0] [0, 1, 0, 0]."),
        ("Ja ja ja ja.", "Ja ja ja ja."),
    ],
)
def test_the_loop_is_cut_from_the_text(text: str, trimmed: str) -> None:
    assert trim_loop(text) == trimmed
