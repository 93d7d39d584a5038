"""Which sentence of a question's own passage is quoted for it: the passage sentence that
`rag.evidence.best_sentence` picks for the question (as when an answer only restates the
question, or no sentence of it is grounded), compared as a document (`--mode document`) or as the
embedder's query (`--mode query`, what `rag` does). Counts the picks that hold a gold answer, on
the held-out splits of scripts/eval_answers.py (answerable questions, their gold paragraph split
into sentences; across languages with es_over_en / en_over_es). Prints and saves JSON.

    python -m scripts.eval_quotes --sets squad_es,squad_en,es_over_en,en_over_es --split dev
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from core.embedder import CachedEmbedder, Embedder
from core.types import Chunk
from rag import wiring
from rag.config import load_settings
from rag.eval_data import EvalQuery, EvalSet
from rag.evidence import best_sentence
from rag.metrics import contains_answer
from rag.sentences import sentences_of, unwrapped
from rag.types import Hit, Passage
from scripts.eval_answers import held_out

ROOT = Path(__file__).resolve().parents[1]


def _passage(text: str) -> Passage:
    chunk = Chunk(id="p", text=text, source="p", chunk_index=0, title="p", kind="text", content_hash="p")
    return Passage(1, Hit(chunk), [chunk], text)


def picks(evalset: EvalSet, limit: int, embed: Embedder) -> dict[str, object]:
    docs = {d.id: d.text for d in evalset.docs}
    asked: list[tuple[EvalQuery, str]] = [
        (q, docs[next(iter(q.gold))]) for q in evalset.queries if q.answerable and q.answers and q.gold
    ][:limit]
    several = [(q, t) for q, t in asked if len(sentences_of(unwrapped(t))) > 1]
    right = {"document": 0, "query": 0}
    for q, text in several:
        p = _passage(text)
        for mode in right:
            quote = best_sentence(q.question, p, embed.embed, stated="", asked=mode == "query")
            right[mode] += contains_answer(quote, q.answers)
    return {"questions": len(several), **{f"{m}_holds_gold": n for m, n in right.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="squad_es,squad_en,es_over_en,en_over_es")
    ap.add_argument("--split", choices=("dev", "test"), default="dev")
    ap.add_argument("--limit", type=int, default=200, help="answerable questions per set")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--embed-cache", type=Path, default=None, help="SQLite file of cached vectors")
    args = ap.parse_args()
    s = load_settings()
    embedder = wiring.embedder_for_ingest(s)
    if args.embed_cache:
        embedder = CachedEmbedder(embedder, args.embed_cache)
    t = time.perf_counter()
    report = {
        name: picks(held_out(name, args.split, args.data), args.limit, embedder)
        for name in args.sets.split(",")
    }
    result = {
        "split": args.split,
        "embedder": s.embedder,
        "seconds": round(time.perf_counter() - t, 1),
        "sets": report,
    }
    print(json.dumps(result, indent=1))
    out = ROOT / "bench-results" / f"quotes-{args.split}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
