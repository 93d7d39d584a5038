"""Generator benchmark: GGUF conversion and cache reload time, time to first token and decode
tokens/s for both bundled generators, fp32 next to int8, on the same prompt and thread count.
Prints and saves JSON.

    python scripts/bench_generate.py [--models qwen2.5-coder-0.5b-instruct,...] [--out bench-results/generate.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from rag.generate import TransformersGenerator  # noqa: E402
from rag.models import BUNDLED, MARKER, _cache_dir, resolve  # noqa: E402


def prompt_messages() -> list[dict[str, str]]:
    """A realistic RAG prompt: the sample corpus' gradient lecture as the source (~500 tokens)."""
    from ingest.loaders import LoadOptions, loader_for

    path = ROOT / "corpus" / "lectures" / "deep-learning-01-gradients.srt"
    loader = loader_for(path)
    assert loader is not None
    text = " ".join(u.text for u in loader(path, LoadOptions()).units)
    return [
        {"role": "system", "content": (ROOT / "rag" / "prompts" / "system.txt").read_text()},
        {
            "role": "user",
            "content": f"Sources:\n\n[1] (Deep Learning 01)\n{text}\n\nQuestion: Why do residual "
            "connections help very deep networks? Answer in English in 2-4 plain sentences.",
        },
    ]


def measure(path: str, quantize: bool, threads: int, new_tokens: int) -> dict[str, float]:
    t = time.perf_counter()
    gen = TransformersGenerator(path, quantize=quantize, threads=threads)
    load_s = time.perf_counter() - t
    gen.model.generation_config.min_new_tokens = new_tokens  # a fixed decode length to time
    out = gen.generate(prompt_messages(), max_new_tokens=new_tokens)
    decode_s = out.seconds - out.first_token_s
    result = {
        "load_s": round(load_s, 2),
        "input_tokens": out.input_tokens,
        "output_tokens": out.output_tokens,
        "time_to_first_token_s": round(out.first_token_s, 2),
        "decode_tokens_per_s": round((out.output_tokens - 1) / decode_s, 2) if decode_s > 0 else 0.0,
    }
    del gen
    gc.collect()
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="qwen2.5-coder-0.5b-instruct,qwen2.5-coder-1.5b-instruct")
    ap.add_argument(
        "--models-dir", type=Path, default=Path(os.environ.get("RAG_HOME", Path.home() / ".rag")) / "models"
    )
    ap.add_argument("--fresh", action="store_true", help="delete the cached conversion first, to time it")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--new-tokens", type=int, default=48)
    ap.add_argument("--out", type=Path, default=ROOT / "bench-results" / "generate.json")
    args = ap.parse_args()
    results: dict[str, object] = {"threads": args.threads, "new_tokens": args.new_tokens}
    for name in args.models.split(","):
        entry: dict[str, object] = {}
        cache = _cache_dir(args.models_dir, BUNDLED[name])
        if args.fresh and cache.exists():
            shutil.rmtree(cache)
        if not (cache / MARKER).exists():
            t = time.perf_counter()
            resolve(name, "generator", args.models_dir)
            entry["convert_s"] = round(time.perf_counter() - t, 1)
        path = resolve(name, "generator", args.models_dir)
        entry["cache_mb"] = round(sum(f.stat().st_size for f in Path(path).iterdir()) / 2**20)
        entry["fp32"] = measure(path, False, args.threads, args.new_tokens)
        entry["int8"] = measure(path, True, args.threads, args.new_tokens)
        fp32, int8 = entry["fp32"], entry["int8"]
        entry["int8_decode_speedup"] = round(int8["decode_tokens_per_s"] / fp32["decode_tokens_per_s"], 2)  # type: ignore[index]
        results[name] = entry
        print(json.dumps({name: entry}, indent=2), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
