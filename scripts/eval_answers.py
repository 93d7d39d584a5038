"""Answer quality on held-out questions, through the real answer path, with settings overridden
per run (for ablations). Prints and saves JSON: the `rag eval` answer metrics plus every answer.

Held-out splits (questions no prompt, threshold or training run of this project has seen):
  * squad_en / squad_es: the articles the built-in reranker held out (its train_report.json),
    split by article: "dev" (tuning) is the first third, "test" (reporting) the rest. The corpus
    is the whole data set, so retrieval searches every article.
  * clapnq: CLAP NQ (never used for training); "dev" is every fourth question, "test" the rest.
  * es_over_en / en_over_es: the same SQuAD splits' answerable questions asked over the other
    language's paragraphs (a Spanish student, an English lecture); gold answers stay the
    question's language, the language the answer is written in.

    python scripts/eval_answers.py --set squad_es --split dev --limit 40 -o generator_precision=fp32
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from core.embedder import CachedEmbedder
from ingest.pipeline import IngestOptions, Ingestor
from rag import eval_data, wiring
from rag.cli_common import quiet_libraries
from rag.config import load_settings
from rag.eval_answers import answer_metrics
from rag.eval_data import EvalSet
from rag.evaluate import corpus_names, write_corpus

ROOT = Path(__file__).resolve().parents[1]
SETS = {
    "squad_en": ("squad2_dev_half_en/dev-v2.0.json", "en"),
    "squad_es": ("squad_es_v2_dev/dev-v2.0-es_small.json", "es"),
    "clapnq": ("clapnq_dev", None),
}
# Questions of one language over the other's paragraphs (each question's own paragraph found in
# translation by `eval_data.align`); answerable questions only.
CROSS = {"es_over_en": ("squad_es", "squad_en"), "en_over_es": ("squad_en", "squad_es")}


def held_out(name: str, split: str, data: Path) -> EvalSet:
    if name in CROSS:
        asked, over = CROSS[name]
        questions = held_out(asked, split, data)
        corpus = eval_data.load(data / SETS[over][0])
        pairs = eval_data.align(eval_data.load(data / SETS[asked][0]), corpus)
        return eval_data.crosslingual(questions, corpus, pairs, f"{name}-{split}")
    rel, lang = SETS[name]
    full = eval_data.load(data / rel)
    if lang is None:
        queries = [q for i, q in enumerate(full.queries) if (i % 4 == 0) == (split == "dev")]
    else:
        titles = sorted(eval_data.held_out_articles()[lang])
        cut = max(1, len(titles) // 3)
        chosen = set(titles[:cut] if split == "dev" else titles[cut:])
        ids = _ids_of(data / rel, chosen)
        queries = [q for q in full.queries if q.id in ids]
    random.Random(7).shuffle(queries)
    return EvalSet(f"{name}-{split}", full.docs, queries)


def _ids_of(path: Path, titles: set[str]) -> set[str]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    return {qa["id"] for a in data if a["title"] in titles for p in a["paragraphs"] for qa in p["qas"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=sorted([*SETS, *CROSS]), required=True)
    ap.add_argument("--split", choices=("dev", "test"), default="dev")
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--skip", type=int, default=0, help="start after this many questions (a run in parts)")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--home", type=Path, default=Path("/tmp/rag-eval-answers"), help="reused between runs")
    ap.add_argument("-o", "--option", action="append", default=[], help="a setting, e.g. top_k=3")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--embed-cache", type=Path, default=None, help="SQLite file of cached chunk vectors")
    args = ap.parse_args()
    quiet_libraries()
    overrides = dict(o.split("=", 1) for o in args.option)
    args.home.mkdir(parents=True, exist_ok=True)
    s = load_settings(home=args.home, collection=args.set.replace("_", "-"), **overrides)
    evalset = held_out(args.set, args.split, args.data)
    evalset = EvalSet(evalset.name, evalset.docs, evalset.queries[args.skip : args.skip + args.limit])
    docs = args.home / "docs" / args.set
    names = write_corpus(evalset, docs) if not docs.exists() else corpus_names(evalset)
    embedder = wiring.embedder_for_ingest(s)
    if args.embed_cache:  # the corpus' vectors from an earlier run (eval_embedders fills the same file)
        embedder = CachedEmbedder(embedder, args.embed_cache)
    with wiring.ingest_session(s) as (store, manifest):
        options = IngestOptions(collection=s.collection, chunk=wiring.chunk_config(s, embedder))
        Ingestor(store, manifest, embedder, wiring.lexical_dir(s, s.collection), options).run(docs)
    t = time.perf_counter()

    def progress(_stage: str, done: int, total: int) -> None:
        print(f"answers {done}/{total}, {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)

    metrics = answer_metrics(evalset, wiring.assistant(s, s.collection), names, on_progress=progress)
    summary = {k: v for k, v in metrics.__dict__.items() if k != "details"}
    seconds = round(time.perf_counter() - t, 1)
    result = {"set": evalset.name, "options": overrides, "seconds": seconds, "metrics": summary}
    print(json.dumps(summary | {"set": evalset.name, "options": overrides, "seconds": seconds}, indent=1))
    result["answers"] = metrics.details
    part = f"-from{args.skip}" if args.skip else ""
    out = args.out or ROOT / "bench-results" / f"answers-{evalset.name}{part}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
