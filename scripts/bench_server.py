"""Embedded store next to a Chroma server (`chroma run` on 127.0.0.1), same data, same run:
full ingest throughput (real embedder), raw write throughput (precomputed vectors) and hybrid
retrieval latency. Prints and saves JSON.

    python scripts/bench_server.py [--data ../shared/data] [--scale 10000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from core.lexical import synced
from core.store import ChromaStore
from core.types import Chunk
from ingest.manifest import Manifest, ManifestStore
from ingest.pipeline import IngestOptions, Ingestor
from ingest.remote_manifest import ChromaManifest
from rag import wiring
from rag.cli_common import quiet_libraries
from rag.config import load_settings
from rag.retrieve import Retriever

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    exe = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    proc = subprocess.Popen(
        [exe, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(150):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    proc.kill()
    sys.exit("chroma server did not start")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--scale", type=int, default=10000, help="chunks written in the raw write test")
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument("--out", type=Path, default=ROOT / "bench-results" / "server.json")
    args = ap.parse_args()
    quiet_libraries()
    docs = args.data / "changelog_practical_ai"
    if not docs.exists():
        sys.exit(f"{docs} not found")
    work = Path(tempfile.mkdtemp(prefix="rag-bench-srv-"))
    proc, url = start_server(work / "server")
    try:
        s = load_settings(home=work, embedder="all-MiniLM-L6-v2", collection="bench")
        embedder = wiring.embedder_for_ingest(s)
        embedder.embed(["warm up"] * 4)
        options = IngestOptions(collection="bench", chunk=wiring.chunk_config(s, embedder))
        results: dict[str, object] = {}
        for kind in ("embedded", "server"):
            store = ChromaStore(work / "embedded") if kind == "embedded" else ChromaStore(url=url)
            manifest: ManifestStore = (
                Manifest(work / "manifest.sqlite") if kind == "embedded" else ChromaManifest(store)
            )
            lex = work / f"lex-{kind}"
            t = time.perf_counter()
            report = Ingestor(store, manifest, embedder, lex, options).run(docs)
            ingest_s = time.perf_counter() - t
            t = time.perf_counter()
            Ingestor(store, manifest, embedder, lex, options).run(docs)
            unchanged_s = time.perf_counter() - t
            col = store.open("bench")
            records = list(col.iter_records())
            chunks = [Chunk.from_record(i, d, m) for i, d, m in records]
            vecs = embedder.embed([c.text for c in chunks[:64]])
            # Raw writes: the real chunks replicated under new ids, vectors reused (no embedding cost).
            raw = store.open_for_write("rawwrite", embedder.name, embedder.dim)
            base_vecs = np.repeat(vecs, -(-len(chunks) // len(vecs)), axis=0)[: len(chunks)]
            t = time.perf_counter()
            written = 0
            copy = 0
            while written < args.scale:
                part = [
                    Chunk(**{**c.__dict__, "id": f"{c.id}-{copy}"}) for c in chunks[: args.scale - written]
                ]
                raw.upsert(part, base_vecs[: len(part)])
                written += len(part)
                copy += 1
            write_s = time.perf_counter() - t
            retriever = Retriever(col, embedder, synced(col, lex), fusion=wiring.fusion(s))
            queries = [
                " ".join(c.text.split()[5:17]) for c in chunks[:: max(1, len(chunks) // args.queries)]
            ][: args.queries]
            retriever.retrieve(queries[0], k=30)
            lat = []
            for q in queries:
                t = time.perf_counter()
                retriever.retrieve(q, k=30)
                lat.append(time.perf_counter() - t)
            results[kind] = {
                "ingest_s": round(ingest_s, 2),
                "ingest_chunks_per_s": round(report.collection_chunks / ingest_s, 1),
                "unchanged_reingest_s": round(unchanged_s, 3),
                "raw_write_chunks": written,
                "raw_write_chunks_per_s": round(written / write_s, 1),
                "retrieve_p50_s": round(float(np.percentile(lat, 50)), 4),
                "retrieve_p95_s": round(float(np.percentile(lat, 95)), 4),
                "queries_per_s": round(len(lat) / sum(lat), 1),
            }
            print(json.dumps({kind: results[kind]}, indent=2), flush=True)
        emb, srv = results["embedded"], results["server"]
        results["server_vs_embedded"] = {
            k: round(srv[k] / emb[k], 2)  # type: ignore[index]
            for k in ("ingest_chunks_per_s", "raw_write_chunks_per_s", "queries_per_s")
        }
        print(json.dumps({"server_vs_embedded": results["server_vs_embedded"]}, indent=2))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
