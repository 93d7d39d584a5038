"""Fact checking of answer sentences (rag/facts.py): numbers by value, names as written in the source."""

from __future__ import annotations

import pytest

from rag.facts import check

# CLAP NQ's Wikipedia passages are tokenised: "Sakharov 's appeal", "Mary - Louise Parker".
PASSAGE = (
    "On 14 January 1980 , the Carter Administration joined Sakharov 's appeal . It stars Kathy Bates "
    "and Mary - Louise Parker , a Depression - era story . The Prime Minister of Canada advises the Crown ."
)


@pytest.mark.parametrize(
    "sentence",
    [
        "The Carter Administration joined Sakharov's appeal.",
        "It stars Mary-Louise Parker in a Depression-era story.",
        "The role of Canada's prime minister is to advise the Crown.",
        "The role of Canada’s prime minister is to advise the Crown.",
        "Carter joined the appeal in 1980.",
        "Both Parkers starred in it.",
    ],
)
def test_names_written_differently_from_the_source_are_still_found(sentence: str) -> None:
    assert check(sentence, PASSAGE).ok


@pytest.mark.parametrize(
    ("sentence", "missing"),
    [
        ("Sakharov's appeal was joined by Brezhnev.", ["Brezhnev"]),
        ("It stars Mary-Kate Parker.", ["Mary-Kate"]),
        ("Carter joined the appeal in 1981.", ["1981"]),
        ("The role of Mexico's president.", ["Mexico's"]),
        ("The Bateses were there.", ["Bateses"]),
    ],
)
def test_a_name_or_number_the_source_does_not_state_is_reported(sentence: str, missing: list[str]) -> None:
    assert check(sentence, PASSAGE).unsupported == missing


@pytest.mark.parametrize(
    ("sentence", "labels", "missing"),
    [
        ("El teorema de Heine-Cantor está en la página 10 [1].", "apuntes.pdf p. 10", []),
        ("It is on pages 9 and 11.", "notes.pdf pp. 9–10", ["11"]),
        ("Lo dice en el minuto 33, a las 33:10 [1].", "Practical AI 270\n32:09–36:26", []),
        ("He says it at 37:00, in minute 40.", "Practical AI 270\n32:09–36:26", ["37", "00", "40"]),
        ("Hacen falta 10 fotones [1].", "fotosintesis.pdf p. 10", ["10"]),  # a page is not a count
    ],
)
def test_a_page_or_time_is_held_by_the_label_it_is_read_from(
    sentence: str, labels: str, missing: list[str]
) -> None:
    assert check(sentence, "Teorema 2.3.12 (Heine-Cantor).", names_from=labels).unsupported == missing


TALK = (
    "He led two organizations: project Maven, and the Department of Defense Joint Artificial "
    "Intelligence Center. Open AI is expecting there will be more fine-tuning, but it is not so "
    "about that in the AI R&D world. Its DNA is software."
)


@pytest.mark.parametrize(
    ("sentence", "lang", "missing"),
    [
        # A Spanish answer over an English talk translates names it does not invent.
        ("Maven era un proyecto de IA del Departamento de Defensa.", "es", []),
        ("Maven era un proyecto del Departamento de Marina.", "es", ["Marina"]),
        ("El proyecto Marte era del Departamento de Defensa.", "es", ["Marte"]),  # names stay as written
        ("Maven era un proyecto del Departamento de Defensa.", "en", ["Defensa", "Departamento"]),
        ("Maven era un proyecto del Departamento de Defensa.", None, ["Defensa", "Departamento"]),
        # A spelled-out acronym, in any language; not one read from lower-case words.
        ("It was run by the DoD.", "en", []),
        ("It was run by the NSA.", "en", ["NSA"]),
        # A long name may close up the transcript's spaces.
        ("Según él, OpenAI espera más fine-tuning.", "es", []),
        ("He says OpenAI expects more fine-tuning.", "en", []),
        ("He says OpenBI expects more fine-tuning.", "en", ["OpenBI"]),
        # An acronym in the other word order.
        ("Su ADN es el software.", "es", []),
        ("Su ADN es el software.", "en", ["ADN"]),
    ],
)
def test_names_said_in_the_other_language_or_spelled_out(
    sentence: str, lang: str | None, missing: list[str]
) -> None:
    assert check(sentence, TALK, lang=lang).unsupported == missing


@pytest.mark.parametrize(
    ("sentence", "missing"),
    [
        ("It was the CIA.", ["CIA"]),  # not read inside "especially"
        ("It was the CTO.", []),
        ("They bought GPUs.", []),
        ("It was Cialis.", ["Cialis"]),  # a name opens a word
    ],
)
def test_a_name_is_found_as_a_word_not_inside_one(sentence: str, missing: list[str]) -> None:
    assert check(sentence, "It was especially the CTO who bought a GPU, a specialist.").unsupported == missing


def test_the_part_of_a_hyphenated_name_after_its_hyphen_is_a_word() -> None:
    passage = "El liderazgo de la Hermandad, dirigido por Hasan al-Hudaybi, se mantuvo moderado."
    assert check("La organización dirigida por Hasan Hudaybi era la Hermandad.", passage).unsupported == []
