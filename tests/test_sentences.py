"""Answer sentences (rag.sentences.sentences_of): attribution, verification, concise answers and
the evidence quote all work sentence by sentence, so an abbreviation must not end one."""

from __future__ import annotations

import pytest

from rag.sentences import sentences_of
from rag.tidy import inline_lists


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Los EE. UU. tienen 50 estados [1]. Fin.", ["Los EE. UU. tienen 50 estados [1].", "Fin."]),
        ("Del año 3000 a. C. son los teoremas [1].", ["Del año 3000 a. C. son los teoremas [1]."]),
        (
            "It moved to the U.S. in 2001 [1]. Later it grew.",
            ["It moved to the U.S. in 2001 [1].", "Later it grew."],
        ),
        (
            "Dr. Jones met Sr. García [1]. Then, e.g. this.",
            ["Dr. Jones met Sr. García [1].", "Then, e.g. this."],
        ),
        ("Por ej. el agua [1].", ["Por ej. el agua [1]."]),
        ("It costs 3.5 euros. It ends in 2001. Done!", ["It costs 3.5 euros.", "It ends in 2001.", "Done!"]),
        ("Una línea\nOtra línea", ["Una línea", "Otra línea"]),
        # A Greek letter is a variable, not an initial.
        ("Elegimos |x| < δ. Será común usar y = mx.", ["Elegimos |x| < δ.", "Será común usar y = mx."]),
    ],
)
def test_sentences_end_at_punctuation_not_at_abbreviations(text: str, expected: list[str]) -> None:
    assert sentences_of(text) == expected


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            "Se asentaron en: 1. Alemania 2. Holanda 3. Sudáfrica [1].",
            "Se asentaron en: Alemania, Holanda, Sudáfrica [1].",
        ),
        (
            "Se asentaron en:\n1.\nAlemania [1]\n2.\nHolanda [2]",
            "Se asentaron en: Alemania [1], Holanda [2].",
        ),
        ("Países:\n1. Francia.\n2. Italia.", "Países: Francia, Italia."),
        ("It ended in 2001. Then 1999. Fine.", "It ended in 2001. Then 1999. Fine."),
    ],
)
def test_enumerations_become_one_sentence(answer: str, expected: str) -> None:
    assert inline_lists(answer) == expected
