"""Calibrate the abstention thresholds on real questions, through the query path `rag ask` runs.

For SQuAD 2.0 (English) and SQuAD-es 2.0 (Spanish) the articles are split in two halves, each
ingested into its own collection by the real pipeline. Every answerable question is searched twice
with `Assistant.search` (hybrid retrieval, then the reranker when one is given), and its abstention
signals are read by `rag.abstain.evidence`, exactly as at query time:
  * present: the collection holding its own article → should answer;
  * absent:  the other half's collection (the topic is not there) → should abstain.
The thresholds chosen maximise balanced accuracy with at most 10% wrong abstentions and are
written to rag/calibration.json (the embedder's, or with --reranker, the reranker's). Questions
of each language are also searched in the other language's halves, aligned by translation, and
fit the similarity threshold for passages in another language than the question
(`dense_min_across`); the articles of scripts/eval_answers.py's held-out splits are left out there.
The rule in use (rag/calibration.json) is measured on the same questions and printed beside the
fitted one (`in_use`), so a change to a signal shows what it does at today's thresholds.

    python scripts/calibrate_abstention.py [--per-lang 300] [--reranker NAME] [--write]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from core.embedder import CachedEmbedder, Embedder
from ingest.pipeline import IngestOptions, Ingestor
from rag import eval_data, wiring
from rag.abstain import Abstention, Evidence, calibrated_abstention, evidence
from rag.answer import Assistant
from rag.cli_common import quiet_libraries
from rag.config import Settings, load_settings
from rag.generate import Generator

ROOT = Path(__file__).resolve().parents[1]
MAX_WRONG = 0.10


@dataclass(frozen=True)
class Row:
    lang: str
    answerable: bool
    ev: Evidence


def load_squad(path: Path) -> dict[str, list[tuple[str, list[str]]]]:
    """article title → its paragraphs, each with its answerable questions."""
    out: dict[str, list[tuple[str, list[str]]]] = {}
    for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
        out[article["title"]] = [
            (p["context"], [qa["question"] for qa in p["qas"] if not qa.get("is_impossible")])
            for p in article["paragraphs"]
        ]
    return out


def half_assistant(
    s: Settings, name: str, paragraphs: list[str], work: Path, cache: Path | None
) -> Assistant:
    """A collection of these paragraphs, ingested by the real pipeline, and an Assistant over it."""
    docs = work / name
    docs.mkdir(parents=True)
    for i, text in enumerate(paragraphs):
        (docs / f"p{i:05d}.txt").write_text(text + "\n", encoding="utf-8")
    embedder: Embedder = wiring.embedder_for_ingest(s)
    if cache is not None:  # vectors kept between runs (scripts/eval_embedders.py writes the same file)
        embedder = CachedEmbedder(embedder, cache)
    store = wiring.open_store(s)
    manifest = wiring.open_manifest(s, store)
    options = IngestOptions(collection=name, chunk=wiring.chunk_config(s, embedder))
    Ingestor(store, manifest, embedder, wiring.lexical_dir(s, name), options).run(docs)
    manifest.close()
    return wiring.assistant(s.model_copy(update={"collection": name}), name, generator=_no_generator)


def _no_generator() -> Generator:
    raise RuntimeError("calibration never generates")


@dataclass
class Halves:
    """One language's SQuAD articles split in two, each half ingested into its own collection."""

    lang: str
    path: Path
    articles: dict[str, list[tuple[str, list[str]]]]
    titles: list[list[str]]
    helpers: list[Assistant]


def halves_of(
    s: Settings, lang: str, data: Path, rng: random.Random, work: Path, cache: Path | None
) -> Halves:
    articles = load_squad(data)
    titles = sorted(articles)
    rng.shuffle(titles)
    split = [titles[::2], titles[1::2]]
    helpers = [
        half_assistant(s, f"{lang}-{h}", [p for t in half for p, _ in articles[t]], work, cache)
        for h, half in enumerate(split)
    ]
    return Halves(lang, data, articles, split, helpers)


def signals(halves: Halves, per_lang: int, rng: random.Random, only: set[str] | None) -> list[Row]:
    """Each question searched in the half holding its article (present) and in the other one."""
    asked = [
        (q, h)
        for h, half in enumerate(halves.titles)
        for t in half
        if only is None or t in only
        for _, qs in halves.articles[t]
        for q in qs
    ]
    rng.shuffle(asked)
    return _rows(halves.lang, halves.helpers, asked[:per_lang])


def cross_signals(
    asked: Halves, over: Halves, per_lang: int, rng: random.Random, skip: set[str]
) -> list[Row]:
    """Questions of one language over the other's halves: present in the half holding the
    translation of the question's paragraph (found by `eval_data.align`), absent in the other.
    `skip`: articles whose questions are kept for scripts/eval_answers.py's held-out splits."""
    pairs = eval_data.align(eval_data.load(asked.path), eval_data.load(over.path))
    half_of = {t: h for h, half in enumerate(over.titles) for t in half}
    questions = [
        (q, half_of[pairs[f"{t}-{n}"].rsplit("-", 1)[0]])
        for t, paragraphs in asked.articles.items()
        if t not in skip
        for n, (_, qs) in enumerate(paragraphs)
        if f"{t}-{n}" in pairs
        for q in qs
    ]
    rng.shuffle(questions)
    return _rows(f"{asked.lang}>{over.lang}", over.helpers, questions[:per_lang])


def _rows(lang: str, helpers: list[Assistant], asked: list[tuple[str, int]]) -> list[Row]:
    rows = []
    for q, h in asked:
        for which, answerable in ((h, True), (1 - h, False)):
            a = helpers[which]
            rows.append(Row(lang, answerable, evidence(q, a.search(q), a.options.top_k)))
    return rows


def rates(rows: list[Row], rule: Abstention) -> dict[str, float]:
    decided = [(r.answerable, rule.decide(r.ev)[0]) for r in rows]
    pos = [abstain for answerable, abstain in decided if answerable]
    neg = [abstain for answerable, abstain in decided if not answerable]
    return {
        "wrong_abstention_rate": round(sum(pos) / len(pos), 3),
        "correct_abstention_rate": round(sum(neg) / len(neg), 3),
    }


def balanced(r: dict[str, float]) -> float:
    return (r["correct_abstention_rate"] + 1 - r["wrong_abstention_rate"]) / 2


def best_rule(rows: list[Row], candidates: list[Abstention]) -> Abstention:
    """The candidate with the best balanced accuracy among those wrongly abstaining ≤ MAX_WRONG."""
    scored = [
        (balanced(r), rule)
        for rule in candidates
        if (r := rates(rows, rule))["wrong_abstention_rate"] <= MAX_WRONG
    ]
    if not scored:
        raise SystemExit("no threshold keeps wrong abstentions under 10%")
    return max(scored, key=lambda x: x[0])[1]


def measured(rows: list[Row], rule: Abstention) -> dict[str, dict[str, float]]:
    langs = sorted({r.lang for r in rows})
    return {
        lang: rates([r for r in rows if lang == "all" or r.lang == lang], rule) for lang in [*langs, "all"]
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-lang", type=int, default=300)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--embedder", default=None, help="default: the configured embedder")
    ap.add_argument("--embed-cache", type=Path, default=None, help="SQLite file of cached vectors")
    ap.add_argument("--reranker", default="", help="calibrate this cross-encoder's threshold instead")
    ap.add_argument("--write", action="store_true", help="update rag/calibration.json")
    args = ap.parse_args()
    quiet_libraries()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rag-calibrate-home-") as home:
        # int8 as `rag` runs a cross-encoder on the CPU: the threshold is for the scores it will see.
        s = load_settings(home=Path(home), embedder=args.embedder, reranker=args.reranker, quantize=True)
        held_out: dict[str, set[str]] = {}
        if args.reranker:  # a reranker trained on SQuAD is calibrated on its held-out articles only
            report = Path(wiring.model_location(s, "reranker", args.reranker)) / "train_report.json"
            if report.exists():
                validation = json.loads(report.read_text())["validation"]
                held_out = {k: set(v["val_titles"]) for k, v in validation.items()}
        rng = random.Random(13)
        work = Path(tempfile.mkdtemp(prefix="rag-calibrate-", dir=home))
        en = halves_of(s, "en", args.data / "squad2_dev_half_en/dev-v2.0.json", rng, work, args.embed_cache)
        rows = signals(en, args.per_lang, rng, held_out.get("en"))
        es = halves_of(
            s, "es", args.data / "squad_es_v2_dev/dev-v2.0-es_small.json", rng, work, args.embed_cache
        )
        rows += signals(es, args.per_lang, rng, held_out.get("es"))
        across: list[Row] = []
        if not args.reranker:
            kept = eval_data.held_out_articles()  # scripts/eval_answers.py's held-out splits
            across = cross_signals(es, en, args.per_lang, rng, kept["es"])
            across += cross_signals(en, es, args.per_lang, rng, kept["en"])
    data = json.loads((ROOT / "rag" / "calibration.json").read_text())
    generic = data["generic"]
    if args.reranker:
        scores = sorted({r.ev.best_rerank for r in rows if r.ev.best_rerank is not None})
        rule = best_rule(rows, [Abstention(t, generic["dense_min"], generic["lexical_min"]) for t in scores])
        assert rule.rerank_min is not None
        entry: dict[str, object] = {"rerank_min": round(rule.rerank_min, 4)}
        section, key = "rerankers", f"cross-encoder:{args.reranker}"
    else:
        grid = [
            Abstention(None, round(float(d), 2), lex)
            for lex in (0.5, 0.6, 0.7, 0.8, 0.9, 1.01)
            for d in np.arange(0.0, 0.9, 0.01)
        ]
        rule = best_rule(rows, grid)
        # The threshold for passages in the other language, fitted on those questions alone with
        # the same rule (word coverage is near zero there, so similarity decides).
        grid = [replace(rule, dense_min_across=round(float(d), 2)) for d in np.arange(0.0, 0.9, 0.01)]
        rule = best_rule(across, grid)
        entry = {
            "dense_min": rule.dense_min,
            "lexical_min": rule.lexical_min,
            "dense_min_across": rule.dense_min_across,
        }
        rows += across
        section, key = "embedders", f"{s.embedder_backend}:{s.embedder}"
    entry |= {
        "measured": measured(rows, rule),
        "questions_per_lang": args.per_lang,
        "command": "python scripts/calibrate_abstention.py"
        + (f" --reranker {args.reranker}" if args.reranker else "")
        + " --write",
    }
    if not args.reranker:
        entry["chunk_tokens"] = s.chunk_tokens
    # The rule in use now, on the same questions: what writing the fitted one would change.
    in_use = calibrated_abstention(
        f"{s.embedder_backend}:{s.embedder}",
        f"cross-encoder:{args.reranker}" if args.reranker else None,
        chunk_tokens=s.chunk_tokens,
    )
    summary = {key: entry, "in_use": {"rule": in_use.__dict__, "measured": measured(rows, in_use)}}
    print(json.dumps(summary | {"seconds": round(time.perf_counter() - t0, 1)}, indent=2))
    if args.write:
        old = data.setdefault(section, {}).get(key, {})
        if args.reranker or old.get("chunk_tokens", s.chunk_tokens) == s.chunk_tokens:
            data[section][key] = entry | {k: v for k, v in old.items() if k == "by_chunk_tokens"}
        else:  # another chunk size: kept beside the embedder's main entry
            old.setdefault("by_chunk_tokens", {})[str(s.chunk_tokens)] = entry
        (ROOT / "rag" / "calibration.json").write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
