from __future__ import annotations

from collections.abc import Sequence

from core.types import Chunk
from rag.rerank import reorder, rerank_hits
from rag.types import Hit


class Scripted:
    """Scores each text by a fixed table, like a cross-encoder that disagrees with retrieval."""

    name = "scripted"

    def __init__(self, table: dict[str, float]) -> None:
        self.table = table
        self.calls: list[list[str]] = []

    def rank(self, query: str, texts: Sequence[str]) -> list[float]:
        self.calls.append(list(texts))
        return [self.table[t] for t in texts]


def hits(*texts: str) -> list[Hit]:
    return [
        Hit(Chunk(id=t, text=t, source=f"/d/{t}.md", chunk_index=0, title=t, kind="text", content_hash=t))
        for t in texts
    ]


TABLE = {"a": 0.1, "b": 0.9, "c": 0.2, "d": 0.8, "e": 5.0}


def test_rerank_scores_only_the_head_and_keeps_the_tail() -> None:
    rr = Scripted(TABLE)
    out = rerank_hits(rr, "q", hits("a", "b", "c", "d", "e"), top=4)
    assert rr.calls == [["a", "b", "c", "d"]]  # "e" is past rerank_top: never scored
    assert [h.chunk.text for h in out] == ["b", "d", "c", "a", "e"]
    assert [h.rerank_score for h in out] == [0.9, 0.8, 0.2, 0.1, None]


def test_fusion_blends_reranker_and_retrieval_orders() -> None:
    # Reranker order b, d, c, a; retrieval order a, b, c, d. RRF (k=60): b = 1/62 + 1/61 beats
    # a = 1/61 + 1/64, which beats d = 1/64 + 1/62 and c = 1/63 + 1/63.
    out = rerank_hits(Scripted(TABLE), "q", hits("a", "b", "c", "d"), top=4, fusion=True)
    assert [h.chunk.text for h in out] == ["b", "a", "d", "c"]
    assert out[1].rerank_score == 0.1  # the raw score is kept for the abstention threshold
    # Scores that agree with retrieval leave its order alone; ties keep retrieval order.
    same = hits("b", "d", "c", "a")
    for h in same:
        h.rerank_score = TABLE[h.chunk.text]
    assert [h.chunk.text for h in reorder(same, fusion=True)] == ["b", "d", "c", "a"]
    flat = hits("x", "y")
    for h in flat:
        h.rerank_score = 1.0
    assert [h.chunk.text for h in reorder(flat, fusion=False)] == ["x", "y"]
