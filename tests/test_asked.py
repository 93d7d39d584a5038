"""Questions that ask for a count, a year or a percentage are answered by a sentence stating one
(rag/asked.py, applied in rag.citations.attribute)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from core.embedder import make_embedder
from rag.asked import Kind, asked_for, states
from rag.citations import attribute
from rag.types import Passage
from tests.helpers import passages_of

EMB = make_embedder("hash", "256")


def embed(texts: Sequence[str], *, query: bool = False) -> np.ndarray:
    return EMB.embed(texts)


SURVEY = (
    "We asked the whole community about MLOps. In the end 322 people filled out the survey. "
    "Of those who answered, 100% said monitoring matters."
)


def _passages(*texts: str) -> list[Passage]:
    return passages_of(*texts, title="Talk")


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many people filled out the MLOps survey?", "count"),
        ("¿Cuántas personas rellenaron la encuesta?", "count"),
        ("¿En cuántos países se vende?", "count"),
        ("¿Cuál es el número de habitantes de Pons?", "count"),
        ("What year did ARPANET send its first message?", "year"),
        ("¿En qué año se fundó la universidad?", "year"),
        ("What percentage of respondents use Kubernetes?", "percent"),
        ("¿Qué porcentaje de la población habla catalán?", "percent"),
        ("Who filled out the survey?", None),
        ("¿Cuándo es el examen final?", None),  # "when" is answered by dates, days, events
        ("¿Cuánto cuesta la matrícula?", None),
        ("How much does it cost?", None),
    ],
)
def test_asked_for_reads_the_kind_of_quantity(question: str, kind: Kind | None) -> None:
    assert asked_for(question) == kind


@pytest.mark.parametrize(
    ("text", "kind", "stated"),
    [
        ("322 people filled it out.", "count", True),
        ("Doscientas diez mil personas.", "count", True),
        ("Hacen falta ocho fotones.", "count", True),
        ("Ninguno de ellos volvió.", "count", True),
        ("Several hundred people answered.", "count", True),
        ("Solo uno sobrevivió.", "count", True),
        ("100% of the respondents said so.", "count", False),  # a share is not a count
        ("El cien por ciento respondió.", "count", False),
        ("La mayoría de la comunidad.", "count", False),
        ("Una parte de la población.", "count", False),  # "una" is an article here
        ("It was sent in 1969.", "year", True),
        ("Se fundó a finales del siglo XV.", "year", False),
        ("About 40% of them.", "percent", True),
        ("Cuarenta por ciento.", "percent", True),
        ("La mitad de la población.", "percent", True),
        ("Most of the population.", "percent", False),
    ],
)
def test_states_finds_a_quantity_of_the_kind(text: str, kind: Kind, stated: bool) -> None:
    assert states(text, kind) is stated


def test_a_percentage_for_a_count_becomes_the_sentence_with_the_count() -> None:
    question = "How many people filled out the MLOps survey?"
    text, cits, _, dropped = attribute(
        "100% of the respondents filled out the MLOps survey [1].",
        _passages(SURVEY),
        embed,
        question=question,
    )
    assert text == "The source says: «In the end 322 people filled out the survey.» [1]."
    assert dropped == ["100% of the respondents filled out the MLOps survey."]
    assert cits[0].quote == "In the end 322 people filled out the survey."


def test_an_answer_stating_the_count_is_left_as_written() -> None:
    question = "How many people filled out the MLOps survey?"
    answer = "322 people filled out the MLOps survey [1]."
    text, _, _, dropped = attribute(answer, _passages(SURVEY), embed, question=question)
    assert text == answer and dropped == []


def test_a_question_that_asks_no_quantity_keeps_its_answer() -> None:
    question = "What did the respondents say about monitoring?"
    answer = "All of those who answered said monitoring matters [1]."
    text, _, _, dropped = attribute(answer, _passages(SURVEY), embed, question=question)
    assert text == answer and dropped == []


def test_the_answer_stays_when_no_cited_sentence_states_the_kind() -> None:
    """Nothing better to show: the cited passage states no year either."""
    question = "¿En qué año se fundó la universidad de Pons?"
    answer = "La universidad de Pons se fundó a finales del siglo XV [1]."
    passages = _passages("La universidad de Pons se fundó a finales del siglo XV, junto al río.")
    text, _, _, dropped = attribute(answer, passages, embed, question=question, lang="es")
    assert text == answer and dropped == []


def test_the_quote_comes_from_a_cited_passage_that_states_the_kind() -> None:
    """The first cited passage has no year; the second cited one does."""
    question = "¿En qué año se fundó la universidad de Pons?"
    answer = "La universidad de Pons se fundó en la Edad Media [1]. Su fundador fue un obispo [2]."
    passages = _passages(
        "La universidad de Pons se fundó en la Edad Media.",
        "El obispo de Pons fundó la universidad en 1492. Su fundador fue un obispo de la ciudad.",
    )
    text, _, _, dropped = attribute(answer, passages, embed, question=question, lang="es")
    assert text == "La fuente dice: «El obispo de Pons fundó la universidad en 1492.» [1]."
    assert len(dropped) == 2
