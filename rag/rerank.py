"""Reranker protocol, the sentence-transformers cross-encoder, and an identity fake."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ingest.registry import Registry
from rag.errors import ModelError


class Reranker(Protocol):
    name: str

    def rank(self, query: str, texts: Sequence[str]) -> list[float]:
        """One relevance score per text (higher is better); comparable to the abstention threshold."""
        ...


RERANKERS: Registry[Reranker] = Registry("reranker")
register_reranker = RERANKERS.register


def make_reranker(backend: str, model: str, **kwargs: Any) -> Reranker:
    return RERANKERS.make(backend, model, **kwargs)


@register_reranker("cross-encoder")
class CrossEncoderReranker:
    def __init__(
        self,
        model: str,
        *,
        device: str = "cpu",
        max_length: int = 256,
        batch_size: int = 32,
        name: str | None = None,
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
