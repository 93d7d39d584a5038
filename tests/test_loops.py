"""Repetition loops of a greedy model (rag/loops.py): stopped when certain, cut from the answer."""

from __future__ import annotations

import pytest

from rag.loops import looping, trim_loop


def test_a_short_cycle_repeated_over_the_span_is_a_loop() -> None:
    assert looping([5, 6] * 12) and looping([9] * 24) and looping([1, 2, 3] + [7, 8, 9] * 8)
    assert not looping([5, 6] * 11)  # 22 tokens: not yet certain
    assert not looping(list(range(40)))
    assert not looping([0, 11] * 4 + [3])  # a zero vector: a few repeats, then the text goes on


def test_a_long_cycle_is_a_loop_once_a_run_of_it_comes_again() -> None:
    two_sentences = list(range(100, 180))
    assert not looping(two_sentences + list(range(500, 531)))
    assert not looping(two_sentences + two_sentences[:31])
    assert looping(two_sentences + two_sentences[:32])
    assert looping([1, 2, 3, *two_sentences, 7, *two_sentences[10:42]])


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
        (
            "The source says: «My name is Daniel Whitenack, I'm founder and CEO at Prediction Guard.» [1]. "
            "The source says: «In these Fully Connected episodes we keep you connected with the AI world.» [1]. "
            "The source says: «My name is Daniel Whitenack, I'm founder and CEO at Prediction Guard.» [1]. "
            "The source says: «In these Fully",
            "The source says: «My name is Daniel Whitenack, I'm founder and CEO at Prediction Guard.» [1]. "
            "The source says: «In these Fully Connected episodes we keep you connected with the AI world.» [1].",
        ),
        (
            "CYCLADES fue la primera red en hacer a los hosts responsables de la entrega de datos, en lugar "
            "de la propia red [1]. Fue desarrollada en 1973 y fue la primera red en hacer a los hosts "
            "responsables de la entrega de datos, en lugar de la propia red y",
            "CYCLADES fue la primera red en hacer a los hosts responsables de la entrega de datos, en lugar "
            "de la propia red [1]. Fue desarrollada en 1973…",
        ),
    ],
)
def test_the_loop_is_cut_from_the_text(text: str, trimmed: str) -> None:
    assert trim_loop(text) == trimmed
