"""Which embedder? Every candidate through `rag eval`'s machinery (real chunking and ingest, real
hybrid retrieval, the reranker on top) on the same data, in one run, one table:

  * squad_es / squad_en: SQuAD-es and SQuAD 2.0 questions of the articles held out from reranker
    training, over all paragraphs of their language;
  * en>es / es>en: cross-lingual — English questions over the Spanish paragraphs and the reverse
    (the translation of each question's paragraph is found by `eval_data.align`; only articles held
    out in both languages);
  * clapnq (answerable questions over the 600 pooled passages) and cranfield.

Per embedder and stage (dense, hybrid, reranked, fused): R@1, R@5, MRR@10; per corpus the ingest
rate (chunks/s, embedder tokens/s). Vectors are cached by text (--embed-cache), so a rerun or a
later script (calibration) does not embed a corpus again.

    python scripts/eval_embedders.py --embedders all-MiniLM-L6-v2,embeddinggemma-300m,onnx-use:use-multilingual-v3
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from core.embedder import CachedEmbedder
from rag import eval_data, wiring
from rag.cli_common import quiet_libraries
from rag.config import load_settings
from rag.eval_data import EvalQuery, EvalSet
from rag.evaluate import run_eval
from rag.metrics import mrr_at, recall_at

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "rag" / "weights" / "rag-reranker-minilm-l6" / "train_report.json"
SQUAD = {"en": "squad2_dev_half_en/dev-v2.0.json", "es": "squad_es_v2_dev/dev-v2.0-es_small.json"}


def held_out_titles() -> dict[str, set[str]]:
    validation = json.loads(REPORT.read_text())["validation"]
    return {lang: set(validation[lang]["val_titles"]) for lang in SQUAD}


def _title(doc_id: str) -> str:
    return doc_id.rsplit("-", 1)[0]


def corpora(
    data: Path, split: str = "held-out", limit: int | None = None, pool: str = "all"
) -> dict[str, tuple[EvalSet, dict[str, list[EvalQuery]]]]:
    """corpus name → (documents, query groups over them). SQuAD questions come from the articles
    held out of reranker training ("held-out", reported) or from the others ("tune": where a
    setting such as the fusion weight is chosen). The SQuAD passages searched are every paragraph
    of the language (pool "all") or only those of the questions' articles (pool "split": about as
    many paragraphs as the held-out set that issue 13's table was measured on)."""
    held = held_out_titles()
    if split == "tune":
        squad_titles = {
            lang: {_title(d.id) for d in eval_data.load(data / rel).docs} for lang, rel in SQUAD.items()
        }
        held = {lang: squad_titles[lang] - held[lang] for lang in SQUAD}
    squad = {lang: eval_data.load(data / rel) for lang, rel in SQUAD.items()}
    if pool == "split":
        squad = {lang: _only(s, held[lang]) for lang, s in squad.items()}
    pairs = eval_data.align(squad["en"], squad["es"])
    back = {es: en for en, es in pairs.items()}

    def own(lang: str) -> list[EvalQuery]:
        qs = [q for q in squad[lang].queries if q.answerable and _title(next(iter(q.gold))) in held[lang]]
        return qs[:limit]

    def across(src: str, dst: str, mapping: dict[str, str]) -> list[EvalQuery]:
        keep = {d: t for d, t in mapping.items() if _title(d) in held[src] and _title(t) in held[dst]}
        return eval_data.crosslingual(squad[src], squad[dst], keep, f"{src}>{dst}").queries[:limit]

    out: dict[str, tuple[EvalSet, dict[str, list[EvalQuery]]]] = {
        "squad_es": (squad["es"], {"squad_es": own("es"), "en>es": across("en", "es", pairs)}),
        "squad_en": (squad["en"], {"squad_en": own("en"), "es>en": across("es", "en", back)}),
    }
    clap = eval_data.load(data / "clapnq_dev")
    out["clapnq"] = (clap, {"clapnq": [q for q in clap.queries if q.answerable]})
    cran = eval_data.load(data / "cranfield")
    out["cranfield"] = (cran, {"cranfield": cran.queries})
    return out


def _only(squad: EvalSet, titles: set[str]) -> EvalSet:
    docs = [d for d in squad.docs if _title(d.id) in titles]
    return EvalSet(squad.name, docs, [q for q in squad.queries if all(_title(d) in titles for d in q.gold)])


def evaluate(spec: str, args: argparse.Namespace, sets: dict[str, Any]) -> dict[str, Any]:
    backend, _, model = spec.rpartition(":")  # "onnx-use:use-multilingual-v3", or a bare model spec
    s = load_settings(
        embedder=model,
        embedder_backend=backend or None,
        reranker=None if args.no_rerank else "rag-reranker-minilm-l6",
        **dict(o.split("=", 1) for o in args.option),
    )
    if args.no_rerank:
        s = s.model_copy(update={"reranker": ""})
    embedder = CachedEmbedder(wiring.embedder_for_ingest(s), args.embed_cache)
    reranker = wiring.reranker(s)
    chunk = wiring.chunk_config(s, embedder)
    options = wiring.ask_options(s, embedder.name, reranker)
    result: dict[str, Any] = {"chunk_tokens": chunk.size, "dim": embedder.dim}
    for corpus, (docs, groups) in sets.items():
        queries = [q for qs in groups.values() for q in qs]
        t = time.perf_counter()
        report = run_eval(EvalSet(corpus, docs.docs, queries), embedder, chunk, reranker, None, options)
        result[f"{corpus}_ingest"] = {
            "chunks": report.chunks,
            "seconds": report.ingest_s,
            "chunks_per_s": round(report.chunks / report.ingest_s, 1) if report.ingest_s else None,
        }
        start = 0
        for group, qs in groups.items():
            rows: dict[str, Any] = {"queries": len(qs)}
            for stage, rankings in report.rankings.items():
                part = rankings[start : start + len(qs)]
                rows[stage] = {
                    "r1": round(sum(recall_at(r, g, 1) for r, g in part) / len(part), 4),
                    "r5": round(sum(recall_at(r, g, 5) for r, g in part) / len(part), 4),
                    "mrr": round(sum(mrr_at(r, g, 10) for r, g in part) / len(part), 4),
                }
            result[group] = rows
            start += len(qs)
        print(
            json.dumps({spec: {corpus: result[f"{corpus}_ingest"], **{g: result[g] for g in groups}}}),
            flush=True,
        )
        print(f"  ({time.perf_counter() - t:.0f} s)", flush=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--embedders", default="all-MiniLM-L6-v2,embeddinggemma-300m")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--sets", default="squad_es,squad_en,clapnq,cranfield")
    ap.add_argument("--no-rerank", action="store_true")
    ap.add_argument("--split", choices=("held-out", "tune"), default="held-out")
    ap.add_argument("--pool", choices=("all", "split"), default="all", help="SQuAD paragraphs searched")
    ap.add_argument("--limit", type=int, default=None, help="at most N SQuAD questions per group")
    ap.add_argument("-o", "--option", action="append", default=[], help="a setting, e.g. dense_weight=2")
    ap.add_argument("--embed-cache", type=Path, default=ROOT / "bench-results" / "embed-cache.sqlite")
    ap.add_argument("--out", type=Path, default=ROOT / "bench-results" / "embedders.json")
    args = ap.parse_args()
    quiet_libraries()
    sets = {
        k: v
        for k, v in corpora(args.data, args.split, args.limit, args.pool).items()
        if k in args.sets.split(",")
    }
    print({g: len(qs) for _, groups in sets.values() for g, qs in groups.items()}, flush=True)
    results = {spec: evaluate(spec, args, sets) for spec in args.embedders.split(",")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))


def markdown(results: dict[str, Any]) -> str:
    """The README table: R@1 / R@5 (MRR@10) per query group, one row per embedder and stage."""
    first = next(iter(results.values()))
    groups = [g for g, v in first.items() if isinstance(v, dict) and "queries" in v]
    head = "| embedder | stage | " + " | ".join(groups) + " |"
    lines = [head, "|" + "---|" * (len(groups) + 2)]
    for spec, r in results.items():
        for stage in ("dense", "lexical", "hybrid", "reranked", "fused"):
            if stage not in r[groups[0]]:
                continue
            cells = [
                f"{r[g][stage]['r1']:.3f} / {r[g][stage]['r5']:.3f} ({r[g][stage]['mrr']:.3f})"
                for g in groups
            ]
            lines.append(f"| {spec} | {stage} | " + " | ".join(cells) + " |")
    rates = [
        f"{spec}: "
        + ", ".join(f"{k[:-7]} {v['chunks_per_s']} chunks/s" for k, v in r.items() if k.endswith("_ingest"))
        for spec, r in results.items()
    ]
    return "\n".join(lines) + "\n\nIngest: " + "; ".join(rates)


if __name__ == "__main__":
    main()
