"""Reranker protocol, the sentence-transformers cross-encoder, and an identity fake."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from core.registry import Registry
from core.text import RRF_K, rrf
from rag.errors import ModelError
from rag.types import Hit


class Reranker(Protocol):
    name: str

    def rank(self, query: str, texts: Sequence[str]) -> list[float]:
        """One relevance score per text (higher is better); comparable to the abstention threshold."""
        ...


RERANKERS: Registry[Reranker] = Registry("reranker")
register_reranker = RERANKERS.register


def make_reranker(backend: str, model: str, **kwargs: Any) -> Reranker:
    return RERANKERS.make(backend, model, **kwargs)


def rerank_hits(
    reranker: Reranker, query: str, hits: list[Hit], top: int, *, fusion: bool = False
) -> list[Hit]:
    """Scores the first `top` hits (sets `rerank_score`) and returns them reordered, then the rest."""
    head = hits[:top]
    for hit, score in zip(head, reranker.rank(query, [h.chunk.text for h in head]), strict=True):
        hit.rerank_score = score
    return reorder(head, fusion=fusion) + hits[top:]


def reorder(scored: list[Hit], *, fusion: bool, k: int = RRF_K) -> list[Hit]:
    """Hits in retrieval order, already scored by the reranker, best first.

    fusion=False: by cross-encoder score. fusion=True: reciprocal-rank fusion (k=60, as in the hybrid
    fusion) of the cross-encoder's order with the retrieval order, so a reranker that is weaker out of
    domain cannot bury what dense + BM25 agreed on. Either way abstention reads the raw score."""
    by_score = sorted(range(len(scored)), key=lambda i: -(scored[i].rerank_score or 0.0))
    if not fusion:
        return [scored[i] for i in by_score]
    retrieval = [str(i) for i in range(len(scored))]
    fused = rrf([retrieval, [str(i) for i in by_score]], k)
    return [scored[int(key)] for key in sorted(fused, key=lambda key: -fused[key])]


@register_reranker("cross-encoder", model_role="reranker")
class CrossEncoderReranker:
    def __init__(
        self,
        model: str,
        *,
        device: str = "cpu",
        max_length: int = 256,
        batch_size: int = 32,
        quantize: bool = False,
        name: str | None = None,
        **_: Any,
    ) -> None:
        import torch
        from sentence_transformers import CrossEncoder

        try:
            # Weights may be stored in fp16 (ours are); CPU inference wants float32.
            self.model = CrossEncoder(
                model, device=device, max_length=max_length, model_kwargs={"dtype": torch.float32}
            )
        except Exception as exc:
            raise ModelError(f"cannot load cross-encoder {model!r}: {str(exc).splitlines()[0]}") from None
        self.quantized = quantize and device == "cpu"
        if self.quantized:
            # Dynamic int8 Linear layers: ~2.7x faster on 2 CPU cores (20 × 253 tokens: 0.26 s vs
            # ~0.7 s), same top-1, scores within 0.1 (scripts/bench_retrieval.py). Per-channel
            # scales.
            from rag.quantize import quantize_dynamic_int8

            # Only the transformer (module 0): the score head is one tiny Linear worth keeping exact.
            quantize_dynamic_int8(self.model[0])
        self.name = f"cross-encoder:{name or model}"
        self.batch_size = batch_size

    def rank(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        scores = self.model.predict(
            [(query, t) for t in texts],
            batch_size=self.batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        return [float(s) for s in scores]


@register_reranker("identity")
class IdentityReranker:
    """Keeps the fused order: scores fall with position. For tests and `--no-rerank` style runs."""

    def __init__(self, model: str = "", **_: Any) -> None:
        self.name = "identity"

    def rank(self, query: str, texts: Sequence[str]) -> list[float]:
        return [1.0 - i / max(len(texts), 1) for i in range(len(texts))]
