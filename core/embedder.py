"""Embedder protocol, the sentence-transformers embedder, and a deterministic hash embedder for tests.

Backends are chosen by name from `EMBEDDERS`; the model argument is a local folder or a hub id
(the CLI resolves bundled names to folders before it gets here).
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core.errors import ModelError
from core.registry import Registry


class Embedder(Protocol):
    name: str  # recorded in the collection; a different name on the same collection is an error
    dim: int
    max_tokens: int

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...


DOCUMENT_BATCH = 128


def embed_documents(
    embedder: Embedder, texts: Sequence[str], on_batch: Callable[[int], None] | None = None
) -> np.ndarray:
    """Document vectors in the order of `texts`, embedded shortest first in batches so that each
    batch pads little; `on_batch(n)` after each batch of n texts (a real model takes minutes)."""
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), DOCUMENT_BATCH):
        batch = order[start : start + DOCUMENT_BATCH]
        out[batch] = embedder.embed([texts[i] for i in batch])
        if on_batch is not None:
            on_batch(len(batch))
    return out


EMBEDDERS: Registry[Embedder] = Registry("embedder")
register_embedder = EMBEDDERS.register


def make_embedder(backend: str, model: str, *, name: str | None = None, **kwargs: Any) -> Embedder:
    return EMBEDDERS.make(backend, model, name=name or f"{backend}:{model}", **kwargs)


@register_embedder("sentence-transformers", model_role="embedder")
class SentenceTransformerEmbedder:
    """Any sentence-transformers model folder; vectors are L2-normalised."""

    def __init__(
        self,
        model: str,
        *,
        name: str,
        device: str = "cpu",
        batch_size: int = 64,
        dim: int | None = None,
        max_tokens: int = 512,
        **_: Any,
    ) -> None:
        from sentence_transformers import SentenceTransformer

        try:
            # truncate_dim: Matryoshka models keep most of their quality in a prefix of the vector.
            self.model = SentenceTransformer(model, device=device, truncate_dim=dim)
        except Exception as exc:  # OSError for missing files, HF errors for hub ids offline
            raise ModelError(f"cannot load embedder {model!r}: {str(exc).splitlines()[0]}") from None
        self.name = name
        full = (
            self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension") else None
        )
        self.dim = int(dim or full or self.model.get_sentence_embedding_dimension() or 0)
        # Long-context embedders (2,048 tokens) would otherwise pad a long query batch to that length.
        self.model.max_seq_length = min(int(self.model.max_seq_length or 256), max_tokens)
        self.max_tokens = int(self.model.max_seq_length)
        self.batch_size = batch_size
        prompts = getattr(self.model, "prompts", None) or {}
        self.prompts = {k: prompts[k] for k in ("query", "document") if prompts.get(k)}
        # A private copy: counting runs in the loader thread while the model encodes, and a Rust
        # tokenizer shared across threads can fail with "Already borrowed".
        self._tokenizer = copy.deepcopy(self.model.tokenizer)

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Models trained with query/document prompts (EmbeddingGemma) need them; others get none.
        encode = self.model.encode_query if query else self.model.encode_document
        vectors = encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encoded = self._tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in encoded]


_WORD = re.compile(r"\w+", re.UNICODE)


@register_embedder("onnx-use", model_role="embedder")
class OnnxUSEEmbedder:
    """Universal Sentence Encoder multilingual as one ONNX graph that takes raw strings (its
    SentencePiece tokenizer is an op inside the graph, from onnxruntime-extensions). No query or
    document prompts; its output is already a sentence vector."""

    def __init__(
        self, model: str, *, name: str, threads: int | None = None, batch_size: int = 32, **_: Any
    ) -> None:
        try:
            import onnxruntime as ort
            from onnxruntime_extensions import get_library_path
        except ImportError:
            raise ModelError(
                "the onnx-use embedder needs onnxruntime-extensions: pip install onnxruntime-extensions"
            ) from None
        path = Path(model)
        file = path / "model.onnx" if path.is_dir() else path
        if not file.is_file():
            raise ModelError(f"cannot load embedder {model!r}: no model.onnx there")
        options = ort.SessionOptions()
        options.register_custom_ops_library(get_library_path())
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.dim = int(self.session.get_outputs()[0].shape[-1])
        self.name = name
        # Its tokenizer is inside the graph: windows are sized in words, a close proxy.
        self.max_tokens = 256
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = [
            self.session.run(
                None, {self.input: np.array(list(texts[i : i + self.batch_size]), dtype=object)}
            )[0]
            for i in range(0, len(texts), self.batch_size)
        ]
        out = np.concatenate(rows).astype(np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(_WORD.findall(t)) for t in texts]


@register_embedder("hash")
class HashEmbedder:
    """Bag of hashed lower-cased words: deterministic, instant, and good enough that a query shares
    a direction with passages that contain its words. For tests and smoke runs only."""

    def __init__(self, model: str = "64", *, name: str, delay: float = 0.0, **_: Any) -> None:
        self.dim = int(model) if model.isdigit() else 64
        self.name = name
        self.max_tokens = 256
        self.delay = delay

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        if self.delay:
            import time

            time.sleep(self.delay * len(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")
                out[row, h % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(_WORD.findall(t)) for t in texts]


class CachedEmbedder:
    """An embedder whose vectors are kept on disk (SQLite), keyed by embedder name, role (query or
    document) and text. Evaluation and calibration scripts embed the same corpora again and again;
    with a slow multilingual model that is most of their time."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        import sqlite3
        import threading

        self.inner = inner
        self.name, self.dim, self.max_tokens = inner.name, inner.dim, inner.max_tokens
        path.parent.mkdir(parents=True, exist_ok=True)
        # The ingest pipeline embeds in a worker thread; one connection, guarded by a lock.
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, v BLOB)")
        self._lock = threading.Lock()

    def _key(self, text: str, query: bool) -> str:
        role = "q" if query else "d"
        return hashlib.sha256(f"{self.name}\x00{self.dim}\x00{role}\x00{text}".encode()).hexdigest()

    def embed(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        keys = [self._key(t, query) for t in texts]
        with self._lock:
            found = {
                k: np.frombuffer(v, dtype=np.float32)
                for k in set(keys)
                for (v,) in self._db.execute("SELECT v FROM vec WHERE key = ?", (k,))
            }
        missing: dict[str, str] = {}  # key → text, each distinct text embedded once
        for k, text in zip(keys, texts, strict=True):
            if k not in found:
                missing.setdefault(k, text)
        if missing:
            fresh = self.inner.embed(list(missing.values()), query=query)
            with self._lock:
                for k, row in zip(missing, fresh, strict=True):
                    found[k] = row
                    self._db.execute("INSERT OR REPLACE INTO vec VALUES (?, ?)", (k, row.tobytes()))
                self._db.commit()
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, k in enumerate(keys):
            out[i] = found[k]
        return out

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)
