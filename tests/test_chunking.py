from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import pytest

from core.types import Document, Unit
from ingest.chunking import ChunkConfig, chunk_document, windows
from tests.helpers import Env


def words(texts: Sequence[str]) -> list[int]:
    return [len(t.split()) for t in texts]


def para(i: int, n: int = 10, **kw: object) -> Unit:
    return Unit(" ".join(f"w{i}_{j}" for j in range(n)), i * 100, i * 100 + 50, **kw)  # type: ignore[arg-type]


def test_windows_respect_size_and_boundaries() -> None:
    units = [para(i) for i in range(20)]
    out = windows(units, words, ChunkConfig(size=35, overlap=10))
    for w in out:
        assert sum(len(u.text.split()) for u in w) <= 35
        assert all(u in units for u in w)  # whole paragraphs only
    covered = {u.text for w in out for u in w}
    assert covered == {u.text for u in units}


def test_overlap_repeats_trailing_units() -> None:
    units = [para(i) for i in range(10)]
    out = windows(units, words, ChunkConfig(size=30, overlap=10))
    for a, b in itertools.pairwise(out):
        assert a[-1] == b[0]  # one 10-word unit carried over
    no_overlap = windows(units, words, ChunkConfig(size=30, overlap=0))
    assert all(a[-1] != b[0] for a, b in itertools.pairwise(no_overlap))


def test_every_window_adds_a_unit_its_predecessor_lacks() -> None:
    """A long unit after the overlap: the carried units alone would be a window repeating the
    previous one's tail."""
    units = [para(0, 20), para(1, 8), para(2, 28), para(3, 10)]
    out = windows(units, words, ChunkConfig(size=30, overlap=10))
    for a, b in itertools.pairwise(out):
        assert not set(map(id, b)) <= set(map(id, a)), [[u.text[:6] for u in w] for w in out]
    assert all(sum(len(u.text.split()) for u in w) <= 30 for w in out)
    assert {u.text for w in out for u in w} == {u.text for u in units}


def test_oversized_unit_is_split_on_sentences_then_words() -> None:
    long = Unit(". ".join(f"Sentence {i} has five words" for i in range(40)) + ".", 0, 2000, page=3)
    out = windows([long], words, ChunkConfig(size=32, overlap=0))
    assert len(out) > 1
    assert all(sum(len(u.text.split()) for u in w) <= 32 for w in out)
    assert all(u.page == 3 for w in out for u in w)
    one_sentence = Unit(" ".join(["palabra"] * 500), 0, 4000)
    out = windows([one_sentence], words, ChunkConfig(size=50, overlap=0))
    assert all(sum(len(u.text.split()) for u in w) <= 50 for w in out)
    assert sum(len(u.text.split()) for w in out for u in w) == 500


def test_new_section_starts_a_window_when_full_enough() -> None:
    units = [para(0, 12, section="A"), para(1, 12, section="A"), para(2, 5, section="B")]
    out = windows(units, words, ChunkConfig(size=40, overlap=0))
    assert [u.section for u in out[1]] == ["B"]


def test_chunks_carry_citation_metadata() -> None:
    units = [
        Unit(
            f"cue {i} text here now",
            i * 10,
            i * 10 + 9,
            start_s=i * 5.0,
            end_s=i * 5.0 + 5,
            speaker="Ana" if i < 3 else "Luis",
        )
        for i in range(6)
    ]
    doc = Document(
        "/x/talk.srt", "subtitles", units, {"language": "es", "date": "2025-02-01", "course": "ML"}
    )
    chunks = chunk_document(doc, "/x/talk.srt", "Talk", words, ChunkConfig(size=16, overlap=5))
    assert chunks[0].start_s == 0.0 and chunks[0].speakers == ("Ana",)
    assert chunks[-1].end_s == 30.0
    assert [c.chunk_index for c in chunks] == list(range(len(chunks)))
    assert all(c.language == "es" and c.date == "2025-02-01" for c in chunks)
    meta = chunks[1].to_metadata()
    assert meta["meta_course"] == "ML" and meta["date_num"] == 20250201
    assert isinstance(meta["speakers"], list)


def test_ids_are_stable_and_distinct() -> None:
    units = [Unit("same text"), Unit("other words here"), Unit("same text")]
    doc = Document("/a.txt", "text", units, {})
    one = chunk_document(doc, "/a.txt", "A", words, ChunkConfig(size=16, overlap=0))
    two = chunk_document(doc, "/a.txt", "A", words, ChunkConfig(size=16, overlap=0))
    assert [c.id for c in one] == [c.id for c in two]
    other = chunk_document(doc, "/b.txt", "A", words, ChunkConfig(size=16, overlap=0))
    assert not {c.id for c in one} & {c.id for c in other}


def test_bad_config() -> None:
    with pytest.raises(ValueError):
        ChunkConfig(size=8, overlap=0)
    with pytest.raises(ValueError):
        ChunkConfig(size=100, overlap=80)


def test_identical_windows_in_one_file_keep_distinct_ids(tmp_path: Path) -> None:
    # A footer repeated on every page makes identical windows; each must stay its own chunk.
    footer = " ".join(["footer"] * 16)
    units = [Unit(footer, i * 100, i * 100 + 95) for i in range(4)]
    doc = Document("/x/notes.txt", "text", units, {})
    chunks = chunk_document(doc, "/x/notes.txt", "Notes", words, ChunkConfig(size=16, overlap=0))
    assert len(chunks) == 4 and len({c.text for c in chunks}) == 1
    assert len({c.id for c in chunks}) == 4
    env = Env(tmp_path / "state")
    (tmp_path / "docs").mkdir()
    page = " ".join(["footer"] * 32)  # two pages fill one window of the test ingest (64 tokens)
    (tmp_path / "docs" / "notes.txt").write_text("\n\n".join([page] * 12), encoding="utf-8")
    report = env.ingest(tmp_path / "docs")
    assert report.collection_chunks == len(env.snapshot()) == 6
