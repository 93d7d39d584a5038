"""How the dense and BM25 legs become one ranking (core.text.Fusion), the default users get."""

from __future__ import annotations

import pytest

from core.text import Fusion, blend
from rag.config import Settings
from rag.wiring import fusion


def test_blend_scales_each_leg_to_its_own_range_and_weighs_it() -> None:
    dense = [("a", 0.80), ("b", 0.78), ("c", 0.50)]
    lexical = [("c", 12.0), ("d", 3.0)]
    scores = blend([dense, lexical], (0.7, 0.3))
    assert scores["a"] == pytest.approx(0.7)  # dense best, no BM25
    assert scores["b"] == pytest.approx(0.7 * 28 / 30)
    assert scores["c"] == pytest.approx(0.3)  # dense worst, BM25 best
    assert scores["d"] == pytest.approx(0.0)
    assert blend([[("x", 2.0)], []], (0.7, 0.3)) == {"x": 0.7}  # one candidate: the leg's top


def test_score_fusion_keeps_how_far_ahead_a_passage_is_where_rank_fusion_forgets() -> None:
    """Dense puts a and b far ahead of c; BM25 puts c first, b close behind, a far behind. By
    rank, a and c tie (positions 1 and 3 either way). By score, c's BM25 lead does not make up
    its dense gap, and b, near the top of both, wins."""
    dense = [("a", 0.90), ("b", 0.89), ("c", 0.40)]
    lexical = [("c", 9.0), ("b", 8.8), ("a", 1.0)]
    by_score = Fusion("score", dense_share=0.7).fuse(dense, lexical, [])
    assert sorted(by_score, key=lambda k: -by_score[k]) == ["b", "a", "c"]
    assert by_score["a"] - by_score["c"] > 0.3
    by_rank = Fusion("rank", dense_weight=1.0).fuse(dense, lexical, [])
    assert by_rank["a"] == pytest.approx(by_rank["c"])


def test_pinned_chunks_count_as_a_top_lexical_hit() -> None:
    scores = Fusion("score", dense_share=0.7).fuse([("a", 0.9), ("b", 0.5)], [], ["b"])
    assert scores["b"] == pytest.approx(0.3) and scores["a"] == pytest.approx(0.7)


def test_the_default_is_score_fusion_and_an_unknown_method_is_refused() -> None:
    default = fusion(Settings())
    assert default.method == "score" and 0 < default.dense_share < 1
    with pytest.raises(ValueError, match="unknown fusion"):
        Fusion("mean")


def test_stopwords_are_written_folded_so_question_words_are_dropped() -> None:
    from core.text import STOPWORDS, fold, tokenize

    assert all(fold(w) == w for w in STOPWORDS)  # an accented entry would never match
    assert tokenize("¿Cuál es la posición? ¿Quiénes fueron?") == ["posicion"]
