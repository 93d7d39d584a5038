"""Concise answers: a factual question's answer keeps to the passages its first cited sentence
cites (rag/concise.py, applied in rag.citations.attribute)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from core.embedder import make_embedder
from core.types import Chunk
from rag.citations import attribute
from rag.concise import asks_for_more_than_a_fact, kept_sentences, restates
from rag.types import Hit, Passage
from tests.helpers import ask_options, passages_of

EMB = make_embedder("hash", "256")


def embed(texts: Sequence[str], *, query: bool = False) -> np.ndarray:
    return EMB.embed(texts)


def passages() -> list[Passage]:
    texts = [
        "Adam uses beta1 0.9 and beta2 0.999 by default.",
        "Residual connections add the identity so gradients flow to early layers.",
    ]
    return passages_of(*texts)


PADDED = (
    "Adam uses beta2 0.999 by default [1]. Adam uses beta1 0.9 by default [1]. "
    "Residual connections add the identity so gradients flow to early layers [2]."
)


def test_a_factual_answer_drops_the_sentences_citing_another_passage() -> None:
    text, cits, *_ = attribute(
        PADDED, passages(), embed, question="What is Adam's default beta2?", concise=True
    )
    assert text == "Adam uses beta2 0.999 by default [1]. Adam uses beta1 0.9 by default [1]."
    assert [c.source for c in cits] == ["/d/0.md"]


@pytest.mark.parametrize(
    "question",
    [
        "Why do residual connections help Adam?",
        "How does Adam work?",
        "¿Por qué converge Adam?",
        "Explain Adam.",
    ],
)
def test_an_explanation_keeps_every_sentence(question: str) -> None:
    text, cits, *_ = attribute(PADDED, passages(), embed, question=question, concise=True)
    assert text.count("[2]") == 1 and len(cits) == 2


def test_without_concise_every_sentence_stays() -> None:
    text, cits, *_ = attribute(PADDED, passages(), embed, question="What is Adam's default beta2?")
    assert "Residual connections" in text and len(cits) == 2


@pytest.mark.parametrize(
    ("question", "explanation"),
    [
        ("How many layers does it have?", False),
        ("How much did it cost?", False),
        ("¿Cómo se llama el teorema?", False),
        ("¿Cuántos fotones hacen falta?", False),
        ("Who wrote it?", False),
        ("¿Cómo funciona la fotosíntesis?", True),
        ("What is the difference between Adam and SGD?", True),
        ("Describe the second experiment.", True),
        ("Which optimizer settings and which architecture tricks help training?", True),
        ("¿Qué dijo y quién lo dijo?", True),
        ("List the optimizers.", True),
        ("What are Adam and SGD?", False),
    ],
)
def test_which_questions_ask_for_more_than_a_fact(question: str, explanation: bool) -> None:
    assert asks_for_more_than_a_fact(question) is explanation


def test_kept_sentences_anchor_on_the_first_cited_sentence() -> None:
    assert kept_sentences([[], [0], [0, 1], [], [1], [0]]) == [True, True, False, True, False, True]
    assert kept_sentences([[], []]) == [True, True]


def test_concise_answers_are_the_default() -> None:
    assert ask_options().concise_answers is True


@pytest.mark.parametrize(
    ("sentence", "question", "echo"),
    [
        # Seen in held-out SQuAD-es answers: the question back, cited.
        (
            "El colono de Charleston Elie Prioleau era de la ciudad francesa.",
            "El colono de Charleston Elie Prioleau era de la ciudad francesa.",
            True,
        ),
        (
            "La región se extiende por montañas distintas de las cordilleras transversales.",
            "¿La región se extiende por montañas distintas de las cordilleras transversales?",
            True,
        ),
        ("Las regiones excluyen la jurisdicción.", "¿Qué regiones excluya la jurisdicción?", True),
        # An answer adds at least one word the question did not have.
        (
            "El colono Elie Prioleau era de Pons.",
            "¿De qué ciudad francesa era el colono Elie Prioleau?",
            False,
        ),
        ("Qutb was executed in 1966.", "When was Qutb executed?", False),
        ("No hay regiones excluidas.", "¿Hay regiones excluidas?", False),
        ("Sí, se celebra en Navidad.", "¿Se celebra en Navidad?", False),
        ("[1].", "¿Qué?", False),
        # Written in capitals, a word is the answer even where it spells a stopword ("lo").
        ('El primer mensaje de ARPANET decía "LO".', "¿Qué decía el primer mensaje de ARPANET?", False),
    ],
)
def test_restates_finds_an_answer_that_only_repeats_the_question(
    sentence: str, question: str, echo: bool
) -> None:
    assert restates(sentence, question) is echo


def test_an_answer_that_repeats_the_question_becomes_the_sources_sentence() -> None:
    question = "Adam uses which default beta2?"
    text, cits, replaced, _ = attribute(
        "Adam uses a default beta2 [1].", passages(), embed, question=question, lang="en", concise=True
    )
    assert text == "The source says: «Adam uses beta1 0.9 and beta2 0.999 by default.» [1]."
    assert [c.source for c in cits] == ["/d/0.md"] and replaced == []


def test_the_quote_for_a_restated_question_is_the_sentence_answering_it() -> None:
    """The question is compared as the embedder's query: as a document it reads most like the
    sentence about the same people ("showing her how she could learn"), as a query it finds the
    one that answers it ("she's in sixth grade")."""
    answering = "At dinner my daughter, who's 11, told me she's in sixth grade."
    about = "But I started showing her how she could learn faster with the tools."
    question = "¿En qué curso está la hija de Chris?"
    talk = Chunk(id="/d/251.md#0", text=f"{answering} {about}", source="/d/251.md", chunk_index=0, title="Talk", kind="transcript", content_hash="0")  # fmt: skip

    def asymmetric(texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        near = {answering: [1.0, 0.0], about: [0.0, 1.0], question: [1.0, 0.0] if query else [0.0, 1.0]}
        return np.array([near.get(t, [0.7, 0.7]) for t in texts], dtype=np.float32)

    text, *_ = attribute(
        "La hija de Chris está en el curso de [1].",
        [Passage(1, Hit(talk), [talk], talk.text)],
        asymmetric,
        question=question,
        lang="es",
    )
    assert text == f"La fuente dice: «{answering}» [1]."


def test_an_answer_with_the_fact_is_left_as_written() -> None:
    question = "Adam uses which default beta2?"
    text, *_ = attribute("Adam uses a default beta2 of 0.999 [1].", passages(), embed, question=question)
    assert text == "Adam uses a default beta2 of 0.999 [1]."


def _prompt(question: str, short_facts: bool) -> str:
    from rag.answer import answer_messages

    return answer_messages(question, "en", passages(), "", "classic", short_facts=short_facts)[-1]["content"]


def test_short_facts_asks_a_factual_question_for_a_short_answer() -> None:
    assert "in English in 1-2 plain sentences that state the answer first" in _prompt(
        "What is Adam's default beta2?", True
    )
    assert "in English in 2-4 plain sentences (no code" in _prompt("Why does Adam converge?", True)


def test_without_short_facts_the_prompt_is_as_before() -> None:
    assert "in English in 2-4 plain sentences (no code" in _prompt("What is Adam's default beta2?", False)
    assert ask_options().short_facts is False
