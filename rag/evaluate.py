"""`rag eval`: ingest a data set's corpus into a throw-away collection with the real pipeline, then
measure retrieval per stage (dense, hybrid, reranked, fused) and, with generation on, the answers."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from core.embedder import Embedder
from core.lexical import LexicalIndex
from core.store import ChromaStore
from core.text import Fusion
from ingest.chunking import ChunkConfig
from ingest.manifest import Manifest
from ingest.pipeline import IngestOptions, Ingestor, IngestReport
from rag.answer import AskOptions, Assistant
from rag.eval_answers import AnswerMetrics, answer_metrics
from rag.eval_data import EvalSet
from rag.generate import Generator
from rag.metrics import average_precision, mrr_at, ndcg_at, recall_at
from rag.rerank import Reranker, reorder, rerank_hits
from rag.retrieve import Retriever
from rag.types import Hit

OnProgress = Callable[[str, int, int], None]
Ranking = tuple[list[str], dict[str, float]]


@dataclass
class StageMetrics:
    stage: str
    queries: int
    recall_at_1: float
    recall_at_5: float
    recall_at_10: float
    mrr_at_10: float
    ndcg_at_10: float
    map: float


@dataclass
class EvalReport:
    dataset: str
    documents: int
    chunks: int
    ingest_s: float
    stages: list[StageMetrics]
    answers: AnswerMetrics | None
    seconds: float
    # Per stage, per judged query: (ranked document ids, gold gains). For paired comparisons
    # (scripts/eval_reranker.py); too bulky for the JSON report.
    rankings: dict[str, list[Ranking]] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, object]:
        # asdict deep-copies; the rankings are left out before, not copied and then dropped.
        data = asdict(replace(self, rankings={}))
        del data["rankings"]
        if data.get("answers"):
            del data["answers"]["details"]
        return data


def corpus_names(evalset: EvalSet) -> dict[str, str]:
    """File stem → document id, as write_corpus names the files."""
    return {f"d{n:06d}": doc.id for n, doc in enumerate(evalset.docs)}


def write_corpus(evalset: EvalSet, folder: Path) -> dict[str, str]:
    """Each document as a Markdown file with its title in front-matter; file stem → document id."""
    folder.mkdir(parents=True)
    names = corpus_names(evalset)
    for stem, doc in zip(names, evalset.docs, strict=True):
        head = f"---\ntitle: {json.dumps(doc.title)}\n---\n\n" if doc.title else ""
        (folder / f"{stem}.md").write_text(head + doc.text + "\n", encoding="utf-8")
    return names


def _docs(hits: list[Hit], names: dict[str, str]) -> list[str]:
    """Chunk hits → document ranking (a document ranks where its best chunk does)."""
    out: list[str] = []
    for h in hits:
        stem = Path(h.chunk.source).stem
        doc = names.get(stem, Path(h.chunk.source).name)
        if doc not in out:
            out.append(doc)
    return out


def _stage(name: str, rankings: list[Ranking]) -> StageMetrics:
    n = len(rankings)

    def mean(fn: Callable[[list[str], dict[str, float]], float]) -> float:
        return round(sum(fn(r, g) for r, g in rankings) / n, 4) if n else 0.0

    return StageMetrics(
        name,
        n,
        mean(lambda r, g: recall_at(r, g, 1)),
        mean(lambda r, g: recall_at(r, g, 5)),
        mean(lambda r, g: recall_at(r, g, 10)),
        mean(lambda r, g: mrr_at(r, g, 10)),
        mean(lambda r, g: ndcg_at(r, g, 10)),
        mean(average_precision),
    )


@contextmanager
def throwaway_collection(
    evalset: EvalSet, embedder: Embedder, chunk: ChunkConfig, corpus: Path | None, fusion: Fusion
) -> Iterator[tuple[Retriever, dict[str, str], IngestReport]]:
    """The data set's documents (or `corpus`) ingested by the real pipeline into a temporary store:
    a retriever over it, file stem → document id, and the ingest report."""
    with tempfile.TemporaryDirectory(prefix="rag-eval-") as tmp:
        work = Path(tmp)
        if corpus is not None:
            names: dict[str, str] = {}
            source = corpus
        else:
            names = write_corpus(evalset, work / "docs")
            source = work / "docs"
        store = ChromaStore(work / "chroma")
        manifest = Manifest(work / "manifest.sqlite")
        report = Ingestor(store, manifest, embedder, work / "lexical", IngestOptions("eval", chunk)).run(
            source
        )
        manifest.close()
        collection = store.open("eval")
        lexical = LexicalIndex.load(work / "lexical")
        yield Retriever(collection, embedder, lexical, fusion=fusion), names, report


def run_eval(
    evalset: EvalSet,
    embedder: Embedder,
    chunk: ChunkConfig,
    reranker: Reranker | None,
    generator: Callable[[], Generator] | None,
    options: AskOptions,
    corpus: Path | None = None,
    on_progress: OnProgress | None = None,
) -> EvalReport:
    t0 = time.perf_counter()
    with throwaway_collection(evalset, embedder, chunk, corpus, options.fusion) as (
        retriever,
        names,
        ingested,
    ):
        stages: dict[str, list[Ranking]] = {"dense": [], "lexical": [], "hybrid": []}
        if reranker is not None:
            stages["reranked"], stages["fused"] = [], []
        judged = [q for q in evalset.queries if q.gold]
        for i, q in enumerate(judged, start=1):
            hits = retriever.retrieve(q.question, k=max(options.candidates, 10))
            dense = sorted((h for h in hits if h.dense_rank is not None), key=lambda h: h.dense_rank or 0)
            stages["dense"].append((_docs(dense, names), q.gold))
            lexical = sorted(
                (h for h in hits if h.lexical_rank is not None), key=lambda h: h.lexical_rank or 0
            )
            stages["lexical"].append((_docs(lexical, names), q.gold))
            stages["hybrid"].append((_docs(hits, names), q.gold))
            if reranker is not None:
                top = options.rerank_top
                ranked = rerank_hits(reranker, q.question, hits, top)
                stages["reranked"].append((_docs(ranked, names), q.gold))
                fused = reorder(hits[:top], fusion=True) + hits[top:]
                stages["fused"].append((_docs(fused, names), q.gold))
            if on_progress:
                on_progress("retrieval", i, len(judged))
        answers = None
        if generator is not None:
            answers = answer_metrics(
                evalset,
                Assistant(retriever, reranker, generator, embedder.embed, options),
                names,
                on_progress,
            )
        stage_metrics = [_stage(name, rows) for name, rows in stages.items()]
        return EvalReport(
            evalset.name,
            ingested.count("added"),
            ingested.collection_chunks,
            round(ingested.seconds, 2),
            stage_metrics,
            answers,
            round(time.perf_counter() - t0, 2),
            stages,
        )
