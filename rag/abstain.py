"""When to answer "not in your documents" without calling the generator: one rule, read from the
ranked candidates at query time and by scripts/calibrate_abstention.py when fitting its thresholds."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from core.text import guess_language, question_language, tokenize
from rag.types import Hit

# Words with which a question points at its source, not at what it asks ("according to the
# episode", "según la charla"): no passage needs to hold them.
_POINTERS = frozenset({"according", "episode", "episodes", "lecture", "lectures", "podcast", "transcript",
                       "segun", "acuerdo", "episodio", "episodios", "charla", "charlas", "transcripcion"})  # fmt: skip


_INFLECTION = 2  # letters one word may add to the other and still be the same word
_ROOT = 4  # letters the shorter of the two must have


def lexical_coverage(query: str, text: str) -> float:
    """Share of the query's content words found in the text, as written or an ending apart
    ("stand" in "stands", "entregar" in "entrega", not "comunidad" in "comunicación"): evidence
    that BM25 found the right thing."""
    wanted = set(tokenize(query)) - _POINTERS
    if not wanted:
        return 0.0
    words = set(tokenize(text))
    return sum(1 for w in wanted if w in words or _inflected(w, words)) / len(wanted)


def _inflected(word: str, words: set[str]) -> bool:
    return len(word) >= _ROOT and any(
        abs(len(word) - len(w)) <= _INFLECTION and min(len(w), len(word)) >= _ROOT
        and (w.startswith(word) or word.startswith(w))
        for w in words
    )  # fmt: skip


@dataclass(frozen=True)
class Evidence:
    """The signals abstention reads. `best_rerank` is the best cross-encoder score over every scored
    candidate (its threshold was calibrated on the best of the reranked head, and fusion can order
    that one below top_k); the dense and word-coverage signals read the top_k passages."""

    best_rerank: float | None
    best_dense: float
    best_coverage: float
    across: bool = False  # the closest passage is written in another language than the question


def evidence(query: str, ranked: list[Hit], top_k: int) -> Evidence:
    scored = [h.rerank_score for h in ranked if h.rerank_score is not None]
    head = ranked[:top_k]
    dense = [h for h in head if h.dense_score is not None]
    closest = max(dense, key=lambda h: h.dense_score or 0.0, default=None)
    written = guess_language(closest.chunk.text) if closest is not None else None
    return Evidence(
        best_rerank=max(scored) if scored else None,
        best_dense=(closest.dense_score or 0.0) if closest is not None else 0.0,
        best_coverage=max((lexical_coverage(query, h.chunk.text) for h in head), default=0.0),
        across=written is not None and written != question_language(query),
    )


@dataclass(frozen=True)
class Abstention:
    """With a reranker and its threshold: its best score decides. Without: abstain only when both
    the best dense similarity and the best word coverage are weak. A question over passages in the
    other language matches them less closely (and shares no words with them), so it has its own
    similarity threshold where one was calibrated (`dense_min_across`)."""

    rerank_min: float | None
    dense_min: float
    lexical_min: float
    dense_min_across: float | None = None

    def decide(self, ev: Evidence) -> tuple[bool, str]:
        """(abstain?, the reason in words, shown to the user when abstaining)."""
        if ev.best_rerank is not None and self.rerank_min is not None:
            why = f"best rerank score {ev.best_rerank:.2f} (threshold {self.rerank_min:.2f})"
            return ev.best_rerank < self.rerank_min, why
        dense_min = (
            self.dense_min_across if ev.across and self.dense_min_across is not None else self.dense_min
        )
        weak = ev.best_dense < dense_min and ev.best_coverage < self.lexical_min
        why = (
            f"best similarity {ev.best_dense:.2f} (threshold {dense_min:.2f}), "
            f"word coverage {ev.best_coverage:.2f} (threshold {self.lexical_min:.2f})"
        )
        return weak, why


def _calibration() -> dict[str, Any]:
    return dict(json.loads((files("rag") / "calibration.json").read_text(encoding="utf-8")))


def _measured_at(emb: dict[str, Any], chunk_tokens: int | None) -> dict[str, Any] | None:
    """An embedder's thresholds measured at `chunk_tokens` (its main entry for its own size or no
    size); None when that size was never calibrated."""
    if chunk_tokens is None or chunk_tokens == emb.get("chunk_tokens"):
        return emb
    found: dict[str, Any] | None = emb.get("by_chunk_tokens", {}).get(str(chunk_tokens))
    return found


def calibration_gap(embedder_name: str, chunk_tokens: int | None) -> str:
    """'' when abstention's thresholds were measured for this embedder at this chunk size;
    otherwise which thresholds stand in, for `rag status` to say."""
    emb = _calibration().get("embedders", {}).get(embedder_name)
    if emb is None:
        return f"abstention was not calibrated for {embedder_name}: generic thresholds apply"
    sizes = sorted(
        {int(n) for n in emb.get("by_chunk_tokens", {})} | {int(emb.get("chunk_tokens") or 0)} - {0}
    )
    if not sizes or _measured_at(emb, chunk_tokens) is not None:  # no size recorded: nothing to tell
        return ""
    measured = ", ".join(str(n) for n in sizes)
    return (
        f"abstention was calibrated for {embedder_name} at {measured} tokens, not {chunk_tokens}: "
        f"the thresholds of {emb.get('chunk_tokens') or sizes[0]} apply"
    )


def calibrated_abstention(
    embedder_name: str,
    reranker_name: str | None,
    *,
    rerank_min: float | None = None,
    dense_min: float | None = None,
    chunk_tokens: int | None = None,
) -> Abstention:
    """Thresholds measured by scripts/calibrate_abstention.py (rag/calibration.json); explicit
    values (the settings' overrides) win. An embedder with no calibration gets the generic values.
    Similarities depend on the chunk size (a short chunk matches a question more closely), so an
    embedder's thresholds are per chunk size (`chunk_tokens`: the collection's) where one was
    calibrated; otherwise those of the size it was calibrated at."""
    data = _calibration()
    main = data.get("embedders", {}).get(embedder_name, {})
    emb = _measured_at(main, chunk_tokens) or main
    generic = data.get("generic", {})
    rr = data.get("rerankers", {}).get(reranker_name or "", {})
    return Abstention(
        rerank_min=rerank_min if rerank_min is not None else rr.get("rerank_min"),
        dense_min=dense_min if dense_min is not None else emb.get("dense_min", generic["dense_min"]),
        lexical_min=emb.get("lexical_min", generic["lexical_min"]),
        dense_min_across=emb.get("dense_min_across") if dense_min is None else None,
    )
