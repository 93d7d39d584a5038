"""Does the reranker help? Dense only, hybrid, and hybrid + rerank side by side in one run, on
collections it never trained on: Cranfield (nDCG@10, MAP), CLAP NQ (MRR@10, recall@1 of each
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
from pathlib import Path

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
from rag.rerank import make_reranker  # noqa: E402


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
    ap.add_argument("--out", type=Path, default=ROOT / "bench-results" / "reranker_eval.json")
    args = ap.parse_args()
    folder = resolve("all-MiniLM-L6-v2", "embedder", Path("/nonexistent"))
    embedder = make_embedder("sentence-transformers", folder, name="sentence-transformers:all-MiniLM-L6-v2")
    reranker = make_reranker("cross-encoder", resolve(args.reranker, "reranker", Path("/nonexistent")))
    chunk = ChunkConfig(size=embedder.max_tokens - 2, overlap=32)
    options = AskOptions(candidates=30)
    sets = {
        "cranfield": eval_data.load(args.data / "cranfield"),
        "clapnq": eval_data.load(args.data / "clapnq_dev"),
        "squad_es_val": eval_data.load(
            spanish_validation(args.data, Path(args.reranker) / "train_report.json")
        ),
    }
    results: dict[str, object] = {"reranker": args.reranker}
    for name, evalset in sets.items():
        t = time.perf_counter()
        report = run_eval(evalset.limit(args.limit), embedder, chunk, reranker, None, options)
        results[name] = {
            s.stage: {k: v for k, v in s.__dict__.items() if k != "stage"} for s in report.stages
        }
        results[name]["seconds"] = round(time.perf_counter() - t, 1)  # type: ignore[index]
        print(json.dumps({name: results[name]}, indent=2), flush=True)
    verdict = {}
    for name, metric in (("cranfield", "ndcg_at_10"), ("clapnq", "mrr_at_10"), ("squad_es_val", "mrr_at_10")):
        r = results[name]
        verdict[name] = {
            "metric": metric,
            "hybrid": r["hybrid"][metric],
            "reranked": r["reranked"][metric],  # type: ignore[index]
            "helps": r["reranked"][metric] > r["hybrid"][metric],
        }  # type: ignore[index]
    results["verdict"] = verdict
    results["ship"] = verdict["cranfield"]["helps"] and verdict["clapnq"]["helps"]
    print(json.dumps({"verdict": verdict, "ship": results["ship"]}, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
