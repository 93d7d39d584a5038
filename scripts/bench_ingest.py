"""Ingest benchmark: pipeline throughput next to raw SentenceTransformer.encode on the same chunks,
and unchanged re-ingest next to cold ingest, measured in one run. Prints and saves JSON.

    python scripts/bench_ingest.py [--data ../shared/data] [--out bench-results/ingest.json]

Targets (issue 3): pipeline >= 0.9x raw encoder chunks/s; unchanged re-ingest >= 50x faster than cold.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ingest.pipeline import IngestOptions, Ingestor
from rag import wiring
from rag.cli_common import quiet_libraries
from rag.config import load_settings

ROOT = Path(__file__).resolve().parents[1]


def gather(data: Path, work: Path, limit: int | None = None) -> Path:
    """One folder with the podcast transcripts and every readable PDF of ../shared/data (links, not
    copies); with `limit`, the first `limit` transcripts and the Spanish PDFs only (a slow embedder)."""
    docs = work / "docs"
    docs.mkdir()
    sources = sorted((data / "changelog_practical_ai").glob("*.md"))[:limit]
    sources += sorted((data / "pdfs_es_upv_ehu").glob("*.pdf"))
    if limit is None:
        sources += sorted(p for p in (data / "pdf_edgecases_pypdf").glob("*.pdf") if "password" not in p.name)
    for src in sources:
        (docs / f"{src.parent.name}__{src.name}").symlink_to(src)
    return docs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=ROOT / "bench-results" / "ingest.json")
    ap.add_argument("--embedder", default=None, help="default: the configured embedder")
    ap.add_argument(
        "--transcripts", type=int, default=None, help="only the first N transcripts (and the Spanish PDFs)"
    )
    args = ap.parse_args()
    quiet_libraries()
    if not (args.data / "changelog_practical_ai").exists():
        sys.exit(f"data folder {args.data} not found (expected ../shared/data beside the checkout)")
    work = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    try:
        docs = gather(args.data, work, args.transcripts)
        s = load_settings(home=work, embedder=args.embedder, collection="bench")
        embedder = wiring.embedder_for_ingest(s)
        embedder.embed(["warm up the model and its kernels"] * 8)
        options = IngestOptions(collection="bench", chunk=wiring.chunk_config(s, embedder))
        store = wiring.open_store(s)
        manifest = wiring.open_manifest(s, store)

        t = time.perf_counter()
        cold = Ingestor(store, manifest, embedder, wiring.lexical_dir(s, "bench"), options).run(docs)
        cold_s = time.perf_counter() - t
        t = time.perf_counter()
        warm = Ingestor(store, manifest, embedder, wiring.lexical_dir(s, "bench"), options).run(docs)
        warm_s = time.perf_counter() - t

        texts = [text for _, text, _ in store.open("bench").iter_records()]
        t = time.perf_counter()
        embedder.embed(texts)  # the embedder alone, on the same chunks: the pipeline's ceiling
        raw_s = time.perf_counter() - t

        n = len(texts)
        result = {
            "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
            "embedder": embedder.name,
            "documents": cold.count("added"),
            "failed": [(Path(r.path).name, r.reason) for r in cold.results if r.status == "failed"],
            "chunks": n,
            "tokens": cold.tokens_embedded,
            "cold_ingest_s": round(cold_s, 2),
            "cold_embed_s": round(cold.embed_seconds, 2),
            "pipeline_chunks_per_s": round(n / cold_s, 1),
            "pipeline_tokens_per_s": round(cold.tokens_embedded / cold_s, 1),
            "raw_encode_s": round(raw_s, 2),
            "raw_chunks_per_s": round(n / raw_s, 1),
            "raw_tokens_per_s": round(cold.tokens_embedded / raw_s, 1),
            "pipeline_vs_raw": round(raw_s / cold_s, 3),
            "unchanged_reingest_s": round(warm_s, 3),
            "unchanged_reingest_embedded": warm.chunks_embedded,
            "cold_vs_unchanged_speedup": round(cold_s / warm_s, 1),
            "targets": {"pipeline_vs_raw": ">= 0.9", "cold_vs_unchanged_speedup": ">= 50"},
        }
        print(json.dumps(result, indent=2))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
