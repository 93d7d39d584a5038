"""Does the reranker help? Dense only, hybrid, and hybrid + rerank side by side in one run, on
collections it never trained on (plus "fused": reciprocal-rank fusion of the cross-encoder's order
with the hybrid order, from the same scores): Cranfield (nDCG@10, MAP), CLAP NQ (MRR@10, recall@1 of each
answerable question's gold passage, over the pooled 600 passages) and the held-out Spanish
SQuAD-es articles (MRR@10). Uses `rag eval`'s machinery (real ingest, real retrieval).

    python scripts/eval_reranker.py [--reranker bench-results/reranker] [--out bench-results/reranker_eval.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from ingest.chunking import ChunkConfig  # noqa: E402
from ingest.embedder import make_embedder  # noqa: E402
from rag import eval_data  # noqa: E402
from rag.answer import AskOptions  # noqa: E402
from rag.evaluate import run_eval  # noqa: E402
from rag.models import resolve  # noqa: E402
from rag.rerank import Reranker, make_reranker  # noqa: E402


class Memo:
    """Caches the cross-encoder's scores so the fused run reuses them (same retrieval, same texts)."""

    def __init__(self, inner: Reranker) -> None:
        self.inner, self.name = inner, inner.name
        self.cache: dict[tuple[str, tuple[str, ...]], list[float]] = {}

    def rank(self, query: str, texts: Sequence[str]) -> list[float]:
        key = (query, tuple(texts))
        if key not in self.cache:
            self.cache[key] = self.inner.rank(query, texts)
        return self.cache[key]


class Fused:
    """Reciprocal-rank fusion of the cross-encoder's order with the hybrid order it was given."""

    def __init__(self, inner: Reranker, k: int = 60) -> None:
        self.inner, self.name, self.k = inner, f"fused:{inner.name}", k

    def rank(self, query: str, texts: Sequence[str]) -> list[float]:
        scores = self.inner.rank(query, texts)
        by_ce = sorted(range(len(texts)), key=lambda i: -scores[i])
        ce_rank = {i: r for r, i in enumerate(by_ce)}
        return [1 / (self.k + ce_rank[i] + 1) + 1 / (self.k + i + 1) for i in range(len(texts))]


def spanish_validation(data: Path, report: Path) -> Path:
    info = json.loads(report.read_text())["validation"]["es"]
    squad = json.loads((data / info["source"]).read_text(encoding="utf-8"))
    keep = set(info["val_titles"])
    tmp = Path(tempfile.mkdtemp(prefix="rag-val-")) / "squad-es-val.json"
    tmp.write_text(json.dumps({"data": [a for a in squad["data"] if a["title"] in keep]}, ensure_ascii=False))
    return tmp


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--reranker", default=str(ROOT / "bench-results" / "reranker"))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--sets", default="cranfield,clapnq,squad_es_val", help="comma-separated subset")
    ap.add_argument("--out", type=Path, default=ROOT / "bench-results" / "reranker_eval.json")
    ap.add_argument("--card", action="store_true", help="write the results into the reranker's README.md")
    args = ap.parse_args()
    folder = resolve("all-MiniLM-L6-v2", "embedder", Path("/nonexistent"))
    embedder = make_embedder("sentence-transformers", folder, name="sentence-transformers:all-MiniLM-L6-v2")
    reranker = Memo(make_reranker("cross-encoder", resolve(args.reranker, "reranker", Path("/nonexistent"))))
    chunk = ChunkConfig(size=embedder.max_tokens - 2, overlap=32)
    options = AskOptions(candidates=30)
    loaders = {
        "cranfield": lambda: eval_data.load(args.data / "cranfield"),
        "clapnq": lambda: eval_data.load(args.data / "clapnq_dev"),
        "squad_es_val": lambda: eval_data.load(
            spanish_validation(args.data, Path(args.reranker) / "train_report.json")
        ),
    }
    sets = {name: loaders[name]() for name in args.sets.split(",")}
    results: dict[str, Any] = {"reranker": args.reranker}
    for name, evalset in sets.items():
        t = time.perf_counter()
        report = run_eval(evalset.limit(args.limit), embedder, chunk, reranker, None, options)
        results[name] = {
            s.stage: {k: v for k, v in s.__dict__.items() if k != "stage"} for s in report.stages
        }
        fused = run_eval(evalset.limit(args.limit), embedder, chunk, Fused(reranker), None, options)
        results[name]["fused"] = {k: v for k, v in fused.stages[-1].__dict__.items() if k != "stage"}
        results[name]["seconds"] = round(time.perf_counter() - t, 1)
        print(json.dumps({name: results[name]}, indent=2), flush=True)
    verdict: dict[str, dict[str, Any]] = {}
    for name, metric in (("cranfield", "ndcg_at_10"), ("clapnq", "mrr_at_10"), ("squad_es_val", "mrr_at_10")):
        if name not in results:
            continue
        r = results[name]
        verdict[name] = {
            "metric": metric,
            "hybrid": r["hybrid"][metric],
            "reranked": r["reranked"][metric],
            "fused": r["fused"][metric],
            "rerank_helps": r["reranked"][metric] > r["hybrid"][metric],
            "fused_helps": r["fused"][metric] > r["hybrid"][metric],
        }
    results["verdict"] = verdict
    results["ship"] = {
        mode: all(verdict.get(n, {}).get(f"{mode}_helps", False) for n in ("cranfield", "clapnq"))
        for mode in ("rerank", "fused")
    }
    print(json.dumps({"verdict": verdict, "ship": results["ship"]}, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    if args.card:
        write_card(Path(args.reranker) / "README.md", verdict, " ".join(sys.argv[1:]))


def write_card(card: Path, verdict: dict[str, dict[str, Any]], argv: str) -> None:
    """Replace the model card's Evaluation section (written by train_reranker.py) with this run."""
    head = card.read_text(encoding="utf-8").split("## Evaluation", 1)[0]
    rows = "\n".join(
        f"| {name} | {v['metric']} | {v['hybrid']:.4f} | {v['reranked']:.4f} | {v['fused']:.4f} |"
        for name, v in verdict.items()
    )
    card.write_text(
        f'{head}## Evaluation\n\n`python scripts/eval_reranker.py {argv}` ("fused": reciprocal-rank '
        "fusion of this model's order with the hybrid order):\n\n"
        f"| collection | metric | hybrid | reranked | fused |\n|---|---|---|---|---|\n{rows}\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
