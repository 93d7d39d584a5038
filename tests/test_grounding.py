"""Sentences the sources do not hold (rag/grounding.py, applied in rag.citations.attribute): padding
from the model's own knowledge is dropped, and an answer made only of such sentences becomes the
passage's own sentence, quoted."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from core.embedder import make_embedder
from rag.citations import attribute
from rag.grounding import new_words, source_words, ungrounded, unheld_words
from rag.types import Passage
from tests.helpers import passages_of

EMB = make_embedder("hash", "256")

LIMITS = (
    "Así pues, dado ε > 0, elegimos δ = ε/2, con lo que |x| < δ y |y| < δ. "
    "Será común en este tipo de problemas utilizar trayectorias del tipo y = mx. "
    "Así, si el límite es el mismo para todas ellas, el resultado es un candidato a ser el límite de "
    "la función, pero si dicho límite varía con cada trayectoria, la función no tiene límite."
)
SANCTIONS = (
    "La República Islámica ha mantenido su dominio del poder en Irán a pesar de las sanciones "
    "económicas de Estados Unidos, y ha creado o ayudado a grupos afines en la región."
)
QUESTION = "¿Qué trayectorias se suelen usar para calcular límites dobles?"


def embed(texts: Sequence[str], *, query: bool = False) -> np.ndarray:
    return EMB.embed(texts)


def _pool(texts: list[str], lang: str) -> set[str]:
    pool = source_words(texts, lang)
    assert pool is not None
    return pool


def passages(*texts: str) -> list[Passage]:
    return passages_of(*texts, suffix="pdf", title="Apuntes", kind="pdf")


def test_new_words_leave_out_what_the_question_said() -> None:
    assert new_words("Las trayectorias del tipo y = mx se suelen usar.", QUESTION) == ["tipo", "mx"]


def test_a_generic_sentence_is_not_held_by_the_passage() -> None:
    generic = (
        "Las trayectorias se suelen usar cuando se tienen dos funciones y se desea encontrar el "
        "límite de la suma o resta de estas funciones."
    )
    assert ungrounded(generic, QUESTION, _pool([LIMITS], "es"))
    assert {"suma", "resta", "desea"} <= set(unheld_words(generic, QUESTION, _pool([LIMITS], "es")))


@pytest.mark.parametrize(
    "sentence",
    [
        "Se suelen usar trayectorias del tipo y = mx [1].",
        # Other forms of the passage's words count: "candidatos"/"candidato", "funciones"/"función".
        "Si el límite varía con cada trayectoria, las funciones no tienen límite; si no, hay candidatos.",
        "Sí.",
    ],
)
def test_a_sentence_in_the_passages_words_is_held(sentence: str) -> None:
    assert not ungrounded(sentence, QUESTION, _pool([LIMITS], "es"))


def test_an_answer_over_sources_in_another_language_is_not_judged_by_words() -> None:
    english = "Hugging Face announced that they are going to be sharing ten million dollars of GPU compute."
    sentence = "Hugging Face va a compartir diez millones de dólares en cómputo de GPU."
    assert source_words([english], "es") is None
    text, _, _, dropped = attribute(
        f"{sentence[:-1]} [1].", passages(english), embed, question="¿Cuánto cómputo comparte Hugging Face?", lang="es"
    )  # fmt: skip
    assert text == f"{sentence[:-1]} [1]." and dropped == []


def test_padding_after_the_answer_is_dropped() -> None:
    answer = (
        "Estados Unidos ha dirigido sanciones económicas a Irán [1]. Estas sanciones incluyen prohibir "
        "la importación de productos como petróleo, gas y alimentos [1]."
    )
    text, cits, replaced, dropped = attribute(
        answer, passages(SANCTIONS), embed, question="¿Qué tipo de sanciones ha dirigido Estados Unidos a Irán?", lang="es"
    )  # fmt: skip
    assert text == "Estados Unidos ha dirigido sanciones económicas a Irán [1]."
    assert dropped == [
        "Estas sanciones incluyen prohibir la importación de productos como petróleo, gas y alimentos."
    ]
    assert len(cits) == 1 and replaced == []


def test_an_answer_the_passages_do_not_hold_becomes_their_sentence() -> None:
    answer = (
        "Las trayectorias se suelen usar para calcular límites dobles cuando se tienen dos funciones y "
        "se desea encontrar el límite de la suma o resta de estas funciones [1]. Estas trayectorias se "
        "basan en la idea de considerar las funciones como funciones de una sola variable [1]."
    )
    text, cits, _, dropped = attribute(
        answer, passages(LIMITS, SANCTIONS), embed, question=QUESTION, lang="es"
    )
    assert (
        text
        == "La fuente dice: «Será común en este tipo de problemas utilizar trayectorias del tipo y = mx.» [1]."
    )
    assert [c.source for c in cits] == ["/d/0.pdf"] and len(dropped) == 2


def test_a_list_items_number_does_not_choose_the_quote() -> None:
    """ "dos variables" in the question made the "2)" of a list item outrank the sentence that answers."""
    notes = (
        LIMITS + " 2) Dada la función f(x,y) = 2xy, si hacemos T = {(x,mx) : x≠ 0}, el límite depende de m."
    )
    answer = "Las trayectorias tienen la forma y = mx, donde m es una constante de la recta [1]."
    question = "¿Qué trayectorias es común utilizar para estudiar límites de funciones de dos variables?"
    text, _, _, dropped = attribute(answer, passages(notes), embed, question=question, lang="es")
    assert dropped and text == (
        "La fuente dice: «Será común en este tipo de problemas utilizar trayectorias del tipo y = mx.» [1]."
    )


def test_the_questions_numbers_do_not_choose_the_evidence() -> None:
    answer = "Se suelen usar trayectorias del tipo y = mx [1]."
    question = "¿Qué trayectorias es común utilizar para estudiar límites de funciones de dos variables?"
    text, cits, _, _ = attribute(answer, passages(LIMITS), embed, question=question, lang="es")
    assert text == answer
    assert cits[0].quote == "Será común en este tipo de problemas utilizar trayectorias del tipo y = mx."


def test_a_held_answer_is_left_as_written() -> None:
    answer = "Se suelen usar trayectorias del tipo y = mx [1]."
    text, _, _, dropped = attribute(answer, passages(LIMITS), embed, question=QUESTION, lang="es")
    assert text == answer and dropped == []


def test_words_about_the_sources_are_not_judged() -> None:
    hamas = "Hamas wants an Islamic state in all of Palestine, by armed struggle if needed."
    question = "Where does HAMAS want to establish an Islamic state?"
    said = "According to source, HAMAS wants to establish an Islamic state in Palestine."
    assert unheld_words(said, question, _pool([hamas], "en")) == []
    assert not ungrounded(said, question, _pool([hamas], "en"))


def test_a_sentence_saying_the_sources_do_not_answer_is_kept() -> None:
    hedge = "Sin embargo, no se proporciona información específica sobre la cantidad de jueces en la UE."
    assert not ungrounded(hedge, "¿Cuántas juezas hay en la UE?", _pool([SANCTIONS], "es"))


def test_the_evidence_supports_the_first_sentence_citing_the_passage() -> None:
    hamas = (
        "Hamas wants an Islamic state in all of Palestine. Its charter calls for armed struggle, and its "
        "leaders have rejected the Oslo accords many times, saying the accords betrayed the refugees and "
        "their right of return."
    )
    answer = (
        "Hamas wants an Islamic state in Palestine [1]. Its leaders rejected the Oslo accords many times, "
        "saying they betrayed the refugees and their right of return [1]."
    )
    _, cits, *_ = attribute(
        answer, passages(hamas), embed, question="Where does Hamas want an Islamic state?"
    )
    assert cits[0].quote == "Hamas wants an Islamic state in all of Palestine."
