"""Follow-ups over a multi-speaker interview, through the real ingest (small overlapping windows)
and the chat path: who said the quoted sentence, what the host / a named speaker / the same
speaker said right after it, and what came right before it."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.types import Chunk
from ingest.chunking import ChunkConfig
from rag.abstain import Abstention
from rag.answer import Assistant
from rag.generate import ScriptedGenerator
from rag.memory import Memory, Session
from rag.retrieve import Retriever
from rag.talk import Place, after, before, locate, wanted
from tests.helpers import Env, fusion

INTERVIEW = """**Ana Ruiz:** Welcome to the show. Today our guest builds databases for vectors.

**Bo Chen:** Thanks for having me. It is great to be here with you both.

**Cy Park:** Let us start with the basics. What does your database store?

**Bo Chen:** It stores vectors and their metadata in columnar files. The format is called Lance.

The second thing we store is an index, so a search reads only a few pages.

**Ana Ruiz:** How fast is a search over a billion vectors?

**Bo Chen:** A search over a billion vectors takes about forty milliseconds on one machine.

I think we will see an explosion of retrieval tools in the next twelve months.

Most of them will be built on open formats, like ours.

**Cy Park:** That reminds me of cars. Engines got faster but roads decided the speed.

**Ana Ruiz:** Thank you so much for coming. Please thank the whole Lance team for the tools.

**Bo Chen:** Thank you both. It was fun to talk with you.
"""
QUOTE = "I think we will see an explosion of retrieval tools in the next twelve months."


@pytest.fixture()
def env(tmp_path: Path) -> Env:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "interview.md").write_text(INTERVIEW, encoding="utf-8")
    env = Env(tmp_path / "state", dim=64)
    env.ingest(docs, chunk=ChunkConfig(size=48, overlap=8))
    return env


def _windows(env: Env) -> list[Chunk]:
    col = env.store.open("test")
    return sorted(col.get_where({"source": next(iter(col.sources()))}), key=lambda c: c.chunk_index)


def _place(env: Env) -> Place:
    place = locate(QUOTE, _windows(env))
    assert place is not None
    return place


def test_the_interview_spans_overlapping_windows(env: Env) -> None:
    windows = _windows(env)
    assert len(windows) >= 4  # otherwise nothing below walks across windows


def test_the_speaker_of_a_quote_is_the_turn_it_sits_in(env: Env) -> None:
    place = _place(env)
    assert place.speaker == "Bo Chen"  # a paragraph after the turn's first, no "Name:" of its own
    narrowed = place.chunk.narrowed_to(place.start, place.end)
    assert narrowed.speakers == ("Bo Chen",)


@pytest.mark.parametrize(
    ("question", "starts"),
    [
        ("What did the host say after that?", "Cy Park: That reminds me of cars"),
        ("What did Ana say after that?", "Ana Ruiz: Thank you so much"),
        ("And what did he say next?", "Most of them will be built"),  # the guest goes on
        ("What did the speaker say after that?", "Most of them will be built"),  # who said it
        ("¿Y qué dijo el ponente después?", "Most of them will be built"),
        ("What came after that?", "Cy Park: That reminds me of cars"),  # the next turn
    ],
)
def test_after_starts_at_the_turn_the_question_asks_for(env: Env, question: str, starts: str) -> None:
    place = _place(env)
    who = wanted(question, ["Ana Ruiz", "Bo Chen", "Cy Park"], place.speaker)
    pieces = after(env.store.open("test"), place, who)
    text = " ".join(c.text for c in pieces)
    assert QUOTE not in text
    assert text.startswith(starts)
    assert "Thank you both" in text  # the walk crosses into the next windows


def test_before_ends_where_the_quoted_turn_starts(env: Env) -> None:
    place = _place(env)
    col = env.store.open("test")
    pieces = before(
        col, place, wanted("What did the host ask before that?", ["Ana Ruiz", "Bo Chen"], "Bo Chen")
    )
    text = " ".join(c.text for c in pieces)
    assert text.endswith("How fast is a search over a billion vectors?")
    own = " ".join(c.text for c in before(col, place, wanted("What did he say before that?", [], "Bo Chen")))
    assert own.endswith("forty milliseconds on one machine.") and QUOTE not in own


def test_the_chat_path_answers_who_and_what_next(env: Env) -> None:
    col = env.store.open("test")
    from core.lexical import LexicalIndex
    from tests.helpers import ask_options

    gen = ScriptedGenerator()
    retriever = Retriever(col, env.embedder, LexicalIndex.load(env.lexical_dir()), fusion=fusion())
    options = ask_options(abstention=Abstention(dense_min=0.0, lexical_min=0.0, rerank_min=None))
    a = Assistant(retriever, None, lambda: gen, env.embedder.embed, options)
    memory = Memory(Session("s"), lambda: gen, window=4)
    gen.enqueue("An explosion of retrieval tools in the next twelve months [1].")
    first = a.ask("What does the guest expect an explosion of?", memory=memory)
    assert first.citations and first.citations[0].quote == QUOTE
    who = a.ask("Who said that?", memory=memory)
    assert who.text.startswith("It was Bo Chen [1]") and who.citations[0].speakers == ["Bo Chen"]
    from rag.ui.render import sources_table, stats_line

    assert "no model call" in stats_line(who) and "no model call" not in stats_line(first)
    # A follow-up's source was pinned, not searched: no search score is shown for it.
    assert who.citations[0].pinned and not first.citations[0].pinned
    assert list(sources_table(who).columns[-1].cells) == ["—"]
    assert list(sources_table(first).columns[-1].cells) != ["—"]
    nxt = a.ask("What did the host say after that?", memory=memory)
    assert nxt.text.startswith("Right after that, Cy Park said [1]: «That reminds me of cars.")
    assert nxt.citations[0].speakers == ["Cy Park"]
    before = a.ask("¿Y qué dijo Ana antes de eso?", memory=memory)  # before the turn cited last
    assert before.text == "Justo antes, Ana Ruiz dijo [1]: «How fast is a search over a billion vectors?»"
    assert len(gen.prompts) == 1  # only the first answer was generated


def test_an_answer_given_without_a_citation_still_leaves_its_passage_for_follow_ups(env: Env) -> None:
    from rag.answer import cited_for_memory
    from rag.types import Answer, Hit, Passage

    window = _place(env).chunk
    other = next(c for c in _windows(env) if QUOTE not in c.text)
    passages = [Passage(1, Hit(other), [other], other.text), Passage(2, Hit(window), [window], window.text)]
    answer = Answer("q", "q", "An explosion of retrieval tools in the next twelve months.", passages=passages)
    remembered = cited_for_memory(answer, env.embedder.embed)
    assert remembered and remembered[0]["quote"] == QUOTE and remembered[0]["speakers"] == ["Bo Chen"]
    declined = Answer("q", "q", "No.", refused=True, passages=passages)
    assert cited_for_memory(declined, env.embedder.embed) == []


def test_a_window_that_opens_with_its_only_speakers_turn_has_that_turn() -> None:
    # A long turn fills a window alone: "after that" must still find where it starts.
    alone = Chunk(
        "w", "Cy Park: That reminds me of cars.", "/t.md", 3, "t", "transcript", "h", speakers=("Cy Park",)
    )
    assert alone.turns() == [(0, "Cy Park")]
    lecture = Chunk(
        "l", "Today we talk about cars.", "/l.srt", 0, "l", "subtitles", "h", speakers=("Dr. Ana",)
    )
    assert lecture.turns() == [] and lecture.speaker_at(5) == "Dr. Ana"


@pytest.mark.parametrize("same_passage", [True, False])
def test_a_follow_up_keeps_the_subject_two_turns_on_one_passage_share(env: Env, same_passage: bool) -> None:
    """Found as a new user: "Where was the TreeHacks hackathon held?", "How many people
    participated?" (both answered from one passage), then "Who did Daniel go there with?" was
    searched with the second question's words only and refused."""
    from core.lexical import LexicalIndex
    from rag.memory import Turn
    from tests.helpers import ask_options

    gen = ScriptedGenerator()
    retriever = Retriever(
        env.store.open("test"), env.embedder, LexicalIndex.load(env.lexical_dir()), fusion=fusion()
    )
    options = ask_options(abstention=Abstention(dense_min=0.0, lexical_min=0.0, rerank_min=None))
    a = Assistant(retriever, None, lambda: gen, env.embedder.embed, options)
    window = _place(env).chunk
    other = next(c for c in _windows(env) if c.id != window.id)
    cited: list[dict[str, object]] = [
        {"anchor": window.id, "chunk_ids": [window.id], "quote": QUOTE, "speakers": ["Bo Chen"]}
    ]
    elsewhere: list[dict[str, object]] = [{"anchor": other.id, "chunk_ids": [other.id], "quote": ""}]
    second = cited if same_passage else elsewhere
    first_q, second_q = "How fast is a search over a billion vectors?", "On how many machines?"
    turns = [
        Turn(first_q, "About forty milliseconds [1].", first_q, cited),
        Turn(second_q, "One [1].", second_q, second),
    ]
    gen.enqueue("Vectors and their metadata [1].")
    answer = a.ask("And what does he store there?", memory=Memory(Session("s", turns=turns), None, window=4))
    assert answer.query.startswith("And what does he store there? many machines")
    assert ("billion vectors" in answer.query) is same_passage
