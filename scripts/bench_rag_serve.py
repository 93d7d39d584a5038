"""`rag ask` against a running `rag serve`: wall time of the command next to the server's own
generation time, per question, for the overhead outside generation (process start, HTTP,
retrieval, rerank, rendering). Uses the configured models over corpus/ in a throw-away home.
Prints and saves JSON.

    python scripts/bench_rag_serve.py [--questions 5] [--out bench-results/rag_serve.json]

Target (issue 14): overhead outside generation <= 0.5 s. "overhead" here is the wall time minus
generation and the citation step (attributing answer sentences to passages, part of the answer).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [
    "How many layers did ResNet train on ImageNet with residual connections?",
    "¿Qué es la atención multi-cabeza?",
    "When is the final exam and in which room?",
    "¿Cuál es el límite de eficiencia de una célula solar de silicio?",
    "What did Ada Lovelace write about the Analytical Engine?",
    "What does the k1 parameter of BM25 control?",
]


def rag(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("rag")), *args]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=len(QUESTIONS))
    ap.add_argument("--out", type=Path, default=ROOT / "bench-results" / "rag_serve.json")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="rag-bench-serve-"))
    env = os.environ | {"RAG_HOME": str(home)}
    server = None
    try:
        subprocess.run(
            rag("ingest", str(ROOT / "corpus"), "--json"), env=env, check=True, capture_output=True
        )
        t0 = time.perf_counter()
        server = subprocess.Popen(rag("serve", "--port", "0"), env=env, stderr=subprocess.PIPE, text=True)
        assert server.stderr is not None
        for line in server.stderr:  # "listening on …" comes after the models are loaded
            if "listening on" in line:
                break
        startup = time.perf_counter() - t0
        rows = []
        for question in QUESTIONS[: args.questions]:
            t = time.perf_counter()
            done = subprocess.run(
                rag("ask", question, "--json"), env=env, check=True, capture_output=True, text=True
            )
            wall = time.perf_counter() - t
            answer = json.loads(done.stdout)
            timings = answer["timings"]
            generate = float(timings.get("generate", 0.0))
            cite = float(timings.get("cite", 0.0))
            rows.append(
                {
                    "question": question,
                    "wall_s": round(wall, 3),
                    "server_total_s": round(float(answer["timings"]["total"]), 3),
                    "generate_s": round(generate, 3),
                    "cite_s": round(cite, 3),
                    "overhead_s": round(wall - generate - cite, 3),
                    "timings": {k: round(float(v), 3) for k, v in timings.items()},
                    "output_tokens": answer["tokens"]["output"],
                    "abstained": answer["abstained"],
                }
            )
            print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
        overheads = [r["overhead_s"] for r in rows if "overhead_s" in r]
        result = {
            "server_startup_s": round(startup, 1),
            "overhead_p50_s": round(statistics.median(overheads), 3),
            "overhead_max_s": round(max(overheads), 3),
            "target_overhead_s": 0.5,
            "questions": rows,
        }
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(json.dumps({k: v for k, v in result.items() if k != "questions"}, indent=2))


if __name__ == "__main__":
    main()
