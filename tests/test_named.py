"""A question naming one of the collection's speakers: read as a speaker filter (rag/named.py),
applied by `Assistant.ask`, with the speakers kept by the BM25 index."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from core.lexical import LexicalIndex, synced
from rag.named import document_named, speaker_named
from rag.rerank import IdentityReranker
from rag.retrieve import Filters
from tests.helpers import Env
from tests.test_answer import assistant, retriever, rule

SPEAKERS = [
    *("Don Beyer", "Daniel Whitenack", "Chris Benson", "Chris Ortega", "Karan Malhotra", "José Martín"),
    "Daniel Whitenack: I",  # a transcript parser's stray label, not a speaker
    "Break",  # a transcript's "**Break:**" line
]


@pytest.mark.parametrize(
    ("question", "query", "speaker"),
    [
        (
            "¿Cuántas páginas de apuntes escribió Don Beyer?",
            "¿Cuántas páginas de apuntes escribió?",
            "Don Beyer",
        ),
        (
            "According to Karan Malhotra, how many people joined the collective?",
            "how many people joined the collective?",
            "Karan Malhotra",
        ),
        (
            "¿Cuántos proyectos de ley se presentaron según Don Beyer?",
            "¿Cuántos proyectos de ley se presentaron?",
            "Don Beyer",
        ),
        ("What did the dataset hold, according to Karan?", "What did the dataset hold?", "Karan Malhotra"),
        (
            "¿Qué opina Malhotra de los modelos abiertos?",
            "¿Qué opina de los modelos abiertos?",
            "Karan Malhotra",
        ),
        ("¿Qué dijo Daniel sobre los agentes?", "¿Qué dijo sobre los agentes?", "Daniel Whitenack"),
        (
            "what does don beyer think about education policy?",
            "what does think about education policy?",
            "Don Beyer",
        ),
        (
            "¿Qué explicó jose martin sobre derivadas cruzadas?",
            "¿Qué explicó sobre derivadas cruzadas?",
            "José Martín",
        ),
    ],
)
def test_a_named_speaker_becomes_a_filter_and_leaves_the_search(
    question: str, query: str, speaker: str
) -> None:
    named = speaker_named(question, SPEAKERS)
    assert (named.query, named.speaker) == (query, speaker)


@pytest.mark.parametrize(
    ("question", "query"),
    [
        (
            "En el episodio 263, ¿en qué comunidad de programación se conocieron Daniel y Karan?",
            "En el episodio 263, ¿en qué comunidad de programación se conocieron?",
        ),
        ("What did Karan and Don Beyer agree on about open models?", "What did agree on about open models?"),
        (  # one word left: searched as typed
            "¿Dónde se conocieron Daniel y Don Beyer?",
            "¿Dónde se conocieron Daniel y Don Beyer?",
        ),
        (  # apart, the names are not the question's subject together
            "What did Karan Malhotra's guest say about Don Beyer's bills?",
            "What did Karan Malhotra's guest say about Don Beyer's bills?",
        ),
    ],
)
def test_two_speakers_named_together_leave_the_search_with_no_speaker_chosen(
    question: str, query: str
) -> None:
    """Hosts' names open nearly every turn: searched with "Daniel y Chris", a podcast's turn openers
    ranked above the one passage saying where they met ("We met in the Go language community")."""
    named = speaker_named(question, SPEAKERS)
    assert (named.query, named.speaker) == (query, None)


@pytest.mark.parametrize(
    "question",
    [
        "¿Quién es Don Beyer?",  # about the person: nothing left to search
        "What did Chris say about Don Beyer's background?",  # two speakers
        "What did Chris Benson's guest say about Don Beyer?",
        "How does beam search work?",  # no speaker
        "Did the karan model win?",  # a part alone counts only written as a name
        "¿Qué hizo Don con los modelos?",  # "Don" alone is too short to be read as a name
        "¿Qué dijo Chris sobre los agentes?",  # "Chris" is not one speaker's alone
        "How long was the break between the two talks?",  # a one-word name counts only as written
    ],
)
def test_questions_that_name_no_single_speaker_are_searched_as_typed(question: str) -> None:
    assert speaker_named(question, SPEAKERS).speaker is None
    assert speaker_named(question, SPEAKERS).query == question


TITLES = {
    "/c/practical-ai-258.md": "practical ai 258",
    "/c/practical-ai-266.md": "practical ai 266",
    "/c/calculo2_tema2_funciones-continuas.pdf": "calculo2 tema2 funciones continuas",
    "/c/calculo2_tema3_calculo-diferencial.pdf": "calculo2 tema3 calculo diferencial",
    "/c/slides.pdf": "Lecture 07 slides: Optimizers",
}


@pytest.mark.parametrize(
    ("question", "query", "source"),
    [
        ("En el episodio 266, ¿cómo se llamaba el primer modelo?", "¿cómo se llamaba el primer modelo?", "practical-ai-266.md"),
        ("In practical ai 258, what was the post called?", "what was the post called?", "practical-ai-258.md"),
        ("¿Qué dice el tema 3 sobre el teorema de Schwarz?", "¿Qué dice sobre el teorema de Schwarz?", "calculo2_tema3_calculo-diferencial.pdf"),
        ("What does lecture 7 say about momentum?", "What does say about momentum?", "slides.pdf"),
        ("Resume el episodio 266", "Resume el episodio 266", "practical-ai-266.md"),  # nothing left: filter only
    ],
)  # fmt: skip
def test_a_named_document_becomes_a_filter(question: str, query: str, source: str) -> None:
    named = document_named(question, TITLES)
    assert named.query == query and (named.document or "").endswith(f"/{source}")


@pytest.mark.parametrize(
    "question",
    [
        "¿Qué se dice en la clase 2 sobre límites?",  # 2 is in both calculus titles
        "In episode 999, what happened?",  # no such document
        "What happened in 1972?",  # a number alone does not point at a document
        "How many GPUs did the 266 cluster have?",
    ],
)
def test_questions_that_name_no_single_document_are_searched_as_typed(question: str) -> None:
    assert document_named(question, TITLES).document is None


def test_the_index_keeps_speakers_and_titles_and_an_index_saved_without_them_is_rebuilt(indexed: Env) -> None:
    folder = indexed.lexical_dir()
    index = LexicalIndex.load(folder)
    assert index is not None and "Priya Natarajan" in index.speakers
    assert any(source.endswith("statistics-05-bayes.vtt") for source in index.titles)
    (folder / "names.json").unlink()  # an index saved before names were kept
    old = LexicalIndex.load(folder)
    assert old is not None and old.names is None
    rebuilt = synced(indexed.store.open("test"), folder)
    assert rebuilt is not None and "Priya Natarajan" in rebuilt.speakers
    assert rebuilt.titles == index.titles


class _Spy:
    """Records what the retriever was asked."""

    def __init__(self, inner: object, delay: float = 0.0) -> None:
        self.inner = inner
        self.delay = delay  # seconds each search takes, so its timing can be checked
        self.calls: list[tuple[str, Filters | None]] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def retrieve(self, query: str, k: int = 30, filters: Filters | None = None, extra: object = ()) -> object:
        self.calls.append((query, filters))
        time.sleep(self.delay)
        return self.inner.retrieve(query, k, filters, extra)  # type: ignore[attr-defined]


def _ask(env: Env, question: str, filters: Filters | None = None, **options: object) -> tuple[object, _Spy]:
    from dataclasses import replace

    from rag.generate import ScriptedGenerator

    gen = ScriptedGenerator()
    gen.enqueue("It is about 1.9 percent [1].")
    a = assistant(env, gen, rule(dense_min=float(str(options.pop("dense_min", 0.0))), lexical_min=1.0))
    a.options = replace(a.options, **options)  # type: ignore[arg-type]
    spy = _Spy(retriever(env))
    a.retriever = spy  # type: ignore[assignment]
    return a.ask(question, filters=filters), spy


def test_ask_searches_the_named_speakers_passages_for_the_rest_of_the_question(indexed: Env) -> None:
    answer, spy = _ask(
        indexed, "According to Priya Natarajan, what is the chance of disease after a positive test?"
    )
    question = "According to Priya Natarajan, what is the chance of disease after a positive test?"
    assert spy.calls == [
        (question, None),  # as typed: what abstention reads
        ("what is the chance of disease after a positive test?", Filters(speaker="Priya Natarajan")),
    ]
    assert answer.filters == "speaker Priya Natarajan"  # type: ignore[attr-defined]
    assert answer.hits and all("Priya Natarajan" in h.chunk.speakers for h in answer.hits)  # type: ignore[attr-defined]
    # What the conversation made of the question stays the question (follow-ups build on it).
    assert answer.query.startswith("According to Priya Natarajan")  # type: ignore[attr-defined]


def test_ask_searches_the_named_document(indexed: Env) -> None:
    answer, spy = _ask(indexed, "In lecture 3, how are the two rankings combined?")
    (_, first), (searched, within) = spy.calls
    assert first is None and searched == "how are the two rankings combined?"
    assert within is not None and (within.document or "").endswith("retrieval-03-bm25.md")
    assert answer.hits and all(h.chunk.source == within.document for h in answer.hits)  # type: ignore[attr-defined]
    assert answer.filters == "document retrieval-03-bm25.md"  # type: ignore[attr-defined]
    _, chosen = _ask(indexed, "In lecture 3, how are the two rankings combined?", Filters(source="*.pdf"))
    assert len(chosen.calls) == 1  # the user chose the sources: the question's number is not read


class _SlowReranker(IdentityReranker):
    def rank(self, query: str, texts: Sequence[str]) -> list[float]:
        time.sleep(0.2)
        return super().rank(query, texts)


def test_the_second_search_adds_its_times_to_the_first(indexed: Env) -> None:
    """The reading by what the question names is a second search: the stats line's retrieve and
    rerank times count both searches, not the second alone."""
    from rag.generate import ScriptedGenerator

    gen = ScriptedGenerator()
    gen.enqueue("It is about 1.9 percent [1].")
    a = assistant(indexed, gen, rule(dense_min=0.0, lexical_min=1.0), _SlowReranker())
    spy = _Spy(retriever(indexed), delay=0.2)
    a.retriever = spy  # type: ignore[assignment]
    answer = a.ask("According to Priya Natarajan, what is the chance of disease after a positive test?")
    assert len(spy.calls) == 2
    assert answer.timings["retrieve"] >= 0.4 and answer.timings["rerank"] >= 0.4


def test_ask_searches_a_pair_of_speakers_question_without_their_names(indexed: Env) -> None:
    question = "¿Qué explican Carmen Ruiz y Luis Ortega sobre la atención?"
    answer, spy = _ask(indexed, question)
    assert spy.calls == [(question, None), ("¿Qué explican sobre la atención?", Filters())]
    assert answer.filters == ""  # type: ignore[attr-defined]  # no speaker was chosen for the user
    assert answer.hits and answer.hits[0].chunk.source.endswith("aprendizaje-02-atencion.vtt")  # type: ignore[attr-defined]


def test_a_named_speaker_is_not_read_when_turned_off_or_chosen_or_filtered_out(indexed: Env) -> None:
    question = "According to Priya Natarajan, what is the chance of disease after a positive test?"
    _, off = _ask(indexed, question, filters_from_question=False)
    assert off.calls == [(question, None)]
    chosen = Filters(speaker="Priya Natarajan")
    _, user = _ask(indexed, question, chosen)
    assert user.calls == [(question, chosen)]
    slides = Filters(source="*.pdf")  # the speaker has no passage there: searched as typed, within it
    answer, spy = _ask(indexed, question, slides)
    assert spy.calls[-1][1] == Filters(source="*.pdf", speaker="Priya Natarajan")
    assert answer.filters == "source *.pdf"  # type: ignore[attr-defined]
    assert answer.hits and all(h.chunk.source.endswith(".pdf") for h in answer.hits)  # type: ignore[attr-defined]


@pytest.fixture()
def indexed(tmp_path: Path, corpus_copy: Path) -> Env:
    env = Env(tmp_path / "state", dim=256)
    env.ingest(corpus_copy)
    return env


@pytest.mark.parametrize(
    ("typed", "rest", "abstains"), [(0.9, 0.1, False), (0.1, 0.9, False), (0.1, 0.1, True)]
)
def test_abstention_needs_both_readings_weak(
    indexed: Env, monkeypatch: pytest.MonkeyPatch, typed: float, rest: float, abstains: bool
) -> None:
    """Abstention's thresholds were fitted on questions searched as typed, but a speaker's name
    lifts that search (it matches their turns) and a document's number lowers it: the question is
    refused only when neither the typed search nor the one for the rest of the question is close."""
    import rag.answer
    from rag.abstain import Evidence

    question = "According to Priya Natarajan, what is the chance of disease after a positive test?"
    judged: list[str] = []

    def fake(query: str, ranked: list[Any], top_k: int) -> Evidence:
        judged.append(query)
        return Evidence(None, typed if query == question else rest, 0.0)

    monkeypatch.setattr(rag.answer, "evidence", fake)
    answer, _ = _ask(indexed, question, dense_min=0.5)
    assert answer.abstained is abstains  # type: ignore[attr-defined]
    assert judged[0] == question  # the typed reading first; the rest only when it is weak
    assert len(judged) == (1 if typed > 0.5 else 2)


def test_the_stats_line_says_which_speaker_was_searched(indexed: Env) -> None:
    from rag.ui.render import stats_line

    answer, _ = _ask(
        indexed, "According to Priya Natarajan, what is the chance of disease after a positive test?"
    )
    assert "searched within speaker Priya Natarajan" in stats_line(answer)  # type: ignore[arg-type]
    plain, _ = _ask(indexed, "What is the chance of disease after a positive test?")
    assert "searched within" not in stats_line(plain)  # type: ignore[arg-type]
