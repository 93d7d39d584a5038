"""The benchmark suite in one command: every ratio measured side by side in one run, saved as JSON.

* ingest pipeline vs raw encoder throughput; unchanged re-ingest vs cold   (bench_ingest.py)
* retrieve and retrieve + rerank latency at 10k and 100k chunks           (bench_retrieval.py)
* generator time to first token and decode tokens/s, fp32 vs int8         (bench_generate.py)
* the same generators under llama.cpp (llama-cpp-python), same GGUF, prompt and threads (optional; bench_generate.py --llama)
* peak resident memory of `rag ask`

  python scripts/bench.py [--skip ingest,retrieval,generate,llama,memory] [--out bench-results/bench.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RESULTS = ROOT / "bench-results"


def run_script(name: str, *extra: str) -> dict[str, object]:
    out = RESULTS / f"{name}.json"
    cmd = [sys.executable, str(ROOT / "scripts" / f"bench_{name}.py"), "--out", str(out), *extra]
    print(f"$ {' '.join(cmd[1:])}", flush=True)
    subprocess.run(cmd, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return json.loads(out.read_text())


def peak_memory_of_ask(question: str) -> dict[str, object]:
    """`rag ingest corpus/` then `rag ask`, in a scratch $RAG_HOME (the model cache is shared by every home)."""
    rag = Path(sys.executable).with_name("rag")
    home = Path(tempfile.mkdtemp(prefix="rag-bench-mem-"))
    env = {**os.environ, "RAG_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    subprocess.run(
        [str(rag), "ingest", str(ROOT / "corpus"), "--json"], check=True, env=env, stdout=subprocess.DEVNULL
    )
    out: dict[str, object] = {}
    for generator in ("qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct"):
        t = time.perf_counter()
        proc = subprocess.Popen(
            [str(rag), "ask", question, "--json", "-g", generator], env=env, stdout=subprocess.PIPE
        )
        assert proc.stdout is not None
        answer = json.loads(proc.stdout.read())
        _, status, usage = os.wait4(proc.pid, 0)
        out[generator] = {
            "peak_rss_mb": round(usage.ru_maxrss / 1024),
            "wall_s": round(time.perf_counter() - t, 1),
            "exit": status,
            "answer_tokens": answer["tokens"],
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip", default="", help="comma-separated parts to skip")
    ap.add_argument("--out", type=Path, default=RESULTS / "bench.json")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    threads = os.cpu_count() or 2
    RESULTS.mkdir(exist_ok=True)
    results: dict[str, object] = {"threads": threads, "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    if "ingest" not in skip:
        results["ingest"] = run_script("ingest")
    if "retrieval" not in skip:
        results["retrieval"] = run_script("retrieval")
    if "generate" not in skip:
        llama = [] if "llama" in skip else ["--llama"]
        results["generate"] = run_script("generate", "--threads", str(threads), *llama)
    if "memory" not in skip:
        results["rag_ask_memory"] = peak_memory_of_ask("How many layers did ResNet train on ImageNet?")
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
