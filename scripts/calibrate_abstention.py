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

from core.embedder import make_embedder  # noqa: E402
from core.lexical import LexicalIndex  # noqa: E402
from core.text import rrf
from rag.models import resolve  # noqa: E402
from rag.rerank import Reranker, make_reranker  # noqa: E402
from rag.retrieve import lexical_coverage  # noqa: E402


def load_squad(
    path: Path, per_lang: int, rng: random.Random, only: set[str] | None = None
) -> tuple[list[tuple[str, str]], list[tuple[str, int]]]:
    """All paragraphs (the collection), and up to per_lang answerable questions (from `only` articles)."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    paragraphs: list[tuple[str, str]] = []  # (article, text)
    questions: list[tuple[str, int]] = []  # (question, paragraph index)
    for article in data:
        for para in article["paragraphs"]:
            paragraphs.append((article["title"], para["context"]))
            for qa in para["qas"]:
                if not qa.get("is_impossible") and (only is None or article["title"] in only):
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
    reranker: Reranker | None,
    k: int = 10,
) -> tuple[float, float, float]:
    """(best dense similarity, best word coverage of the top hits, best rerank score of the fused top 20)."""
    sims = np.where(mask, pv @ qv, -1.0)
    dense_top = [int(i) for i in np.argsort(-sims)[: 2 * k]]
    lexical = [ids[i] for i, _ in lex.search(q, 2 * k)] if lex is not None else []
    cands = [i for i in dict.fromkeys(dense_top[:k] + lexical[:k]) if mask[i]]
    cover = max((lexical_coverage(q, texts[i]) for i in cands), default=0.0)
    best_rr = float("nan")
    if reranker is not None:
        fused = rrf([[str(i) for i in dense_top], [str(i) for i in lexical]])
        top = [int(i) for i in sorted(fused, key=fused.__getitem__, reverse=True) if mask[int(i)]][:20]
        best_rr = max(reranker.rank(q, [texts[i] for i in top]), default=float("-inf"))
    return float(sims[dense_top[0]]), cover, best_rr


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-lang", type=int, default=300)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--embedder", default="all-MiniLM-L6-v2")
    ap.add_argument(
        "--reranker", default=None, help="also calibrate this cross-encoder (bundled name or path)"
    )
    ap.add_argument("--write", action="store_true", help="update rag/calibration.json")
    args = ap.parse_args()
    rng = random.Random(13)
    embedder = make_embedder(
        "sentence-transformers",
        resolve(args.embedder, "embedder", Path("/nonexistent")),
        name=f"sentence-transformers:{args.embedder}",
    )
    reranker = (
        # int8, as `rag` runs a cross-encoder on the CPU: the threshold is for the scores it will see.
        make_reranker(
            "cross-encoder",
            resolve(args.reranker, "reranker", Path("/nonexistent")),
            name=args.reranker,
            quantize=True,
        )
        if args.reranker
        else None
    )
    # A reranker trained on SQuAD is calibrated on its held-out articles only.
    held_out: dict[str, set[str]] = {}
    report_file = (
        Path(resolve(args.reranker, "reranker", Path("/nonexistent"))) / "train_report.json"
        if args.reranker
        else None
    )
    if report_file is not None and report_file.exists():
        held_out = {
            k: set(v["val_titles"]) for k, v in json.loads(report_file.read_text())["validation"].items()
        }
    rows: list[dict[str, object]] = []
    t0 = time.perf_counter()
    for lang, rel in (
        ("en", "squad2_dev_half_en/dev-v2.0.json"),
        ("es", "squad_es_v2_dev/dev-v2.0-es_small.json"),
    ):
        paragraphs, questions = load_squad(args.data / rel, args.per_lang, rng, held_out.get(lang))
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
            present = signals(q, v, pv, texts, everything, full, ids, reranker)
            absent = signals(q, v, pv, texts, articles != art, per_article[art], ids, reranker)
            rows.append(
                {"lang": lang, "answerable": True, "dense": present[0], "cover": present[1], "rr": present[2]}
            )
            rows.append(
                {"lang": lang, "answerable": False, "dense": absent[0], "cover": absent[1], "rr": absent[2]}
            )
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
    if reranker is not None:
        report["reranker"] = calibrate_reranker(rows, reranker.name)
    print(json.dumps(report, indent=2))
    if args.write:
        target = ROOT / "rag" / "calibration.json"
        data = json.loads(target.read_text())
        if reranker is not None:
            # Its questions come from the reranker's held-out articles only: a different sample,
            # so the embedder's thresholds (calibrated without --reranker) are left alone.
            data.setdefault("rerankers", {})[reranker.name] = report["reranker"]
        else:
            data.setdefault("embedders", {})[embedder.name] = {
                "dense_min": dense_min,
                "lexical_min": lex_min,
                "measured": {k: report[k] for k in ("en", "es", "all")},
                "command": "python scripts/calibrate_abstention.py --write",
            }
        target.write_text(json.dumps(data, indent=2) + "\n")


def rates(rows: list[dict[str, object]], abstain: list[bool]) -> dict[str, float]:
    pos = [a for a, r in zip(abstain, rows, strict=True) if r["answerable"]]
    neg = [a for a, r in zip(abstain, rows, strict=True) if not r["answerable"]]
    return {
        "wrong_abstention_rate": round(sum(pos) / len(pos), 3),
        "correct_abstention_rate": round(sum(neg) / len(neg), 3),
    }


def calibrate_reranker(rows: list[dict[str, object]], name: str) -> dict[str, object]:
    """The rerank threshold with the best balanced accuracy at most 10% wrong abstentions."""
    scores = sorted({float(r["rr"]) for r in rows})  # type: ignore[arg-type]
    best: tuple[float, float] | None = None
    for thr in scores:
        r = rates(rows, [float(x["rr"]) < thr for x in rows])  # type: ignore[arg-type]
        if r["wrong_abstention_rate"] > 0.10:
            break
        bal = (r["correct_abstention_rate"] + 1 - r["wrong_abstention_rate"]) / 2
        if best is None or bal > best[0]:
            best = (bal, thr)
    assert best is not None
    thr = round(best[1], 4)
    out: dict[str, object] = {
        "rerank_min": thr,
        "reranker": name,
        "command": "python scripts/calibrate_abstention.py --reranker NAME --write",
    }
    measured = {}
    for lang in ("en", "es", "all"):
        sel = [r for r in rows if lang == "all" or r["lang"] == lang]
        measured[lang] = rates(sel, [float(r["rr"]) < thr for r in sel])  # type: ignore[arg-type]
    out["measured"] = measured
    return out


if __name__ == "__main__":
    main()
