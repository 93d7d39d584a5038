"""Calibrate the no-reranker abstention rule on real questions.

For SQuAD 2.0 (English) and SQuAD-es 2.0 (Spanish) questions that have an answer, we score each
question twice against the paragraphs of the data set, with the same signals `rag` uses at query
time (best dense cosine of the top hits, best BM25-hit word coverage):
  * present: all paragraphs (its own article is in the collection) → should answer;
  * absent:  paragraphs of every other article (the topic is not in the collection) → should abstain.
The thresholds chosen maximise balanced accuracy with at most 10% wrong abstentions, and are
written to rag/calibration.json for the embedder.

    python scripts/calibrate_abstention.py [--per-lang 300] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest.embedder import make_embedder  # noqa: E402
from ingest.lexical import LexicalIndex  # noqa: E402
from rag.models import resolve  # noqa: E402
from rag.retrieve import lexical_coverage  # noqa: E402


def load_squad(
    path: Path, per_lang: int, rng: random.Random
) -> tuple[list[tuple[str, str]], list[tuple[str, int]]]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    paragraphs: list[tuple[str, str]] = []  # (article, text)
    questions: list[tuple[str, int]] = []  # (question, paragraph index)
    for article in data:
        for para in article["paragraphs"]:
            paragraphs.append((article["title"], para["context"]))
            for qa in para["qas"]:
                if not qa.get("is_impossible"):
                    questions.append((qa["question"], len(paragraphs) - 1))
    rng.shuffle(questions)
    return paragraphs, questions[:per_lang]


def signals(
    q: str,
    qv: np.ndarray,
    pv: np.ndarray,
    texts: list[str],
    mask: np.ndarray,
    lex: LexicalIndex | None,
    ids: dict[str, int],
    k: int = 10,
) -> tuple[float, float]:
    sims = np.where(mask, pv @ qv, -1.0)
    dense_top = np.argsort(-sims)[:k]
    cands = list(dense_top)
    if lex is not None:
        cands += [ids[i] for i, _ in lex.search(q, k)]
    cover = max((lexical_coverage(q, texts[i]) for i in cands if mask[i]), default=0.0)
    return float(sims[dense_top[0]]), cover


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-lang", type=int, default=300)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--embedder", default="all-MiniLM-L6-v2")
    ap.add_argument("--write", action="store_true", help="update rag/calibration.json")
    args = ap.parse_args()
    rng = random.Random(13)
    embedder = make_embedder(
        "sentence-transformers",
        resolve(args.embedder, "embedder", Path("/nonexistent")),
        name=f"sentence-transformers:{args.embedder}",
    )
    rows: list[dict[str, object]] = []
    t0 = time.perf_counter()
    for lang, rel in (
        ("en", "squad2_dev_half_en/dev-v2.0.json"),
        ("es", "squad_es_v2_dev/dev-v2.0-es_small.json"),
    ):
        paragraphs, questions = load_squad(args.data / rel, args.per_lang, rng)
        texts = [t for _, t in paragraphs]
        articles = np.array([a for a, _ in paragraphs])
        pv = embedder.embed(texts)
        qv = embedder.embed([q for q, _ in questions], query=True)
        ids = {str(i): i for i in range(len(texts))}
        full = LexicalIndex.build((str(i), t) for i, t in enumerate(texts))
        per_article: dict[str, LexicalIndex | None] = {}
        for (q, p), v in zip(questions, qv, strict=True):
            art = articles[p]
            if art not in per_article:
                per_article[art] = LexicalIndex.build(
                    (str(i), t) for i, t in enumerate(texts) if articles[i] != art
                )
            everything = np.ones(len(texts), dtype=bool)
            present = signals(q, v, pv, texts, everything, full, ids)
            absent = signals(q, v, pv, texts, articles != art, per_article[art], ids)
            rows.append({"lang": lang, "answerable": True, "dense": present[0], "cover": present[1]})
            rows.append({"lang": lang, "answerable": False, "dense": absent[0], "cover": absent[1]})
    best: tuple[float, float, float] | None = None
    for lex_min in (0.5, 0.6, 0.7, 0.8, 0.9, 1.01):
        for dense_min in np.arange(0.0, 0.9, 0.01):
            abstain = [r["dense"] < dense_min and r["cover"] < lex_min for r in rows]  # type: ignore[operator]
            pos = [a for a, r in zip(abstain, rows, strict=True) if r["answerable"]]
            neg = [a for a, r in zip(abstain, rows, strict=True) if not r["answerable"]]
            wrong_abstain = sum(pos) / len(pos)
            right_abstain = sum(neg) / len(neg)
            if wrong_abstain > 0.10:
                continue
            bal = (right_abstain + 1 - wrong_abstain) / 2
            if best is None or bal > best[0]:
                best = (bal, float(round(dense_min, 2)), lex_min)
    assert best is not None
    _, dense_min, lex_min = best
    report: dict[str, object] = {
        "embedder": embedder.name,
        "dense_min": dense_min,
        "lexical_min": lex_min,
        "questions_per_lang": args.per_lang,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    for lang in ("en", "es", "all"):
        sel = [r for r in rows if lang == "all" or r["lang"] == lang]
        ab = [r["dense"] < dense_min and r["cover"] < lex_min for r in sel]  # type: ignore[operator]
        pos = [a for a, r in zip(ab, sel, strict=True) if r["answerable"]]
        neg = [a for a, r in zip(ab, sel, strict=True) if not r["answerable"]]
        report[lang] = {
            "wrong_abstention_rate": round(sum(pos) / len(pos), 3),
            "correct_abstention_rate": round(sum(neg) / len(neg), 3),
        }
    print(json.dumps(report, indent=2))
    if args.write:
        target = ROOT / "rag" / "calibration.json"
        data = json.loads(target.read_text())
        data.setdefault("embedders", {})[embedder.name] = {
            "dense_min": dense_min,
            "lexical_min": lex_min,
            "measured": {k: report[k] for k in ("en", "es", "all")},
            "command": "python scripts/calibrate_abstention.py --write",
        }
        target.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
