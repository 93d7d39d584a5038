"""Generator benchmark: GGUF conversion and cache reload time, time to first token and decode
tokens/s for both bundled generators at each precision (fp32, bf16, int8 weights, dynamic int8),
on the same prompt and thread count.
Prints and saves JSON.

    python scripts/bench_generate.py [--models qwen2.5-coder-0.5b-instruct,...] [--out bench-results/generate.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import tempfile
import time
from pathlib import Path

from core.types import Chunk
from ingest.loaders import LoadOptions, loader_for
from rag.answer import answer_messages
from rag.cli import quiet_libraries
from rag.config import Settings, load_settings
from rag.generate import Message
from rag.models import describe, forget_conversion, resolve
from rag.types import Hit, Passage
from rag.wiring import generator_provider

ROOT = Path(__file__).resolve().parents[1]

QUESTION = "Why do residual connections help very deep networks?"


def prompt_messages() -> list[Message]:
    """A realistic RAG prompt built by the answer path itself: the sample corpus' gradient lecture
    as source [1] (~500 tokens)."""
    path = ROOT / "corpus" / "lectures" / "deep-learning-01-gradients.srt"
    loader = loader_for(path)
    assert loader is not None
    doc = loader(path, LoadOptions())
    text = " ".join(u.text for u in doc.units)
    chunk = Chunk(
        id="bench",
        text=text,
        source=str(path),
        chunk_index=0,
        title="Deep Learning 01",
        kind=doc.kind,
        content_hash="",
    )
    style = load_settings().answer_prompt
    return answer_messages(QUESTION, "en", [Passage(1, Hit(chunk), [chunk], text)], "", style)


def measure(s: Settings, new_tokens: int) -> dict[str, float]:
    t = time.perf_counter()
    gen = generator_provider(s)()
    load_s = time.perf_counter() - t
    # A fixed decode length to time: reach past the Generator protocol to the transformers model.
    gen.model.generation_config.min_new_tokens = new_tokens  # type: ignore[attr-defined]
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


def llama_cpp(threads: int, new_tokens: int) -> dict[str, object]:
    try:
        from llama_cpp import Llama
    except ImportError:
        print(
            "llama-cpp-python is not installed (pip install llama-cpp-python builds it); skipping", flush=True
        )
        return {"skipped": "llama-cpp-python not installed"}
    from rag.assemble import assemble
    from rag.models import BUNDLED, gguf_parts

    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct"):
            bundled = BUNDLED[name]
            gguf = Path(tmp) / f"{name}.gguf"
            assert bundled.sha256 is not None
            assemble(gguf_parts(bundled), gguf, bundled.sha256)
            llm = Llama(model_path=str(gguf), n_threads=threads, n_ctx=2048, verbose=False)
            t0 = time.perf_counter()
            first, count = 0.0, 0
            stream = llm.create_chat_completion(
                prompt_messages(), max_tokens=new_tokens, stream=True, temperature=0
            )
            for part in stream:
                if part["choices"][0]["delta"].get("content"):
                    count += 1
                    first = first or time.perf_counter() - t0
            total = time.perf_counter() - t0
            results[name] = {
                "time_to_first_token_s": round(first, 2),
                "decode_tokens_per_s": round((count - 1) / (total - first), 2) if count > 1 else 0.0,
            }
            gguf.unlink()
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="qwen2.5-coder-0.5b-instruct,qwen2.5-coder-1.5b-instruct")
    ap.add_argument(
        "--home", type=Path, default=None, help="RAG home with the model cache (default: settings)"
    )
    ap.add_argument("--fresh", action="store_true", help="delete the cached conversion first, to time it")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--new-tokens", type=int, default=48)
    ap.add_argument(
        "--precisions", default="fp32,bf16,int8,int8-dynamic", help="generator precisions to time"
    )
    ap.add_argument(
        "--llama", action="store_true", help="also time llama.cpp (llama-cpp-python) on the same GGUF"
    )
    ap.add_argument("--out", type=Path, default=ROOT / "bench-results" / "generate.json")
    args = ap.parse_args()
    quiet_libraries()
    results: dict[str, object] = {"threads": args.threads, "new_tokens": args.new_tokens}
    for name in args.models.split(","):
        entry: dict[str, object] = {}
        s = load_settings(home=args.home, generator=name, threads=args.threads)
        if args.fresh:
            forget_conversion(name, s.models_dir)
        if describe(name, "generator", s.models_dir).status == "convert":
            t = time.perf_counter()
            resolve(name, "generator", s.models_dir)
            entry["convert_s"] = round(time.perf_counter() - t, 1)
        path = resolve(name, "generator", s.models_dir)
        entry["cache_mb"] = round(sum(f.stat().st_size for f in Path(path).iterdir()) / 2**20)
        speeds = {}
        for precision in args.precisions.split(","):
            entry[precision] = speeds[precision] = measure(
                s.model_copy(update={"generator_precision": precision}), args.new_tokens
            )
        if "fp32" in speeds:
            base = speeds["fp32"]["decode_tokens_per_s"] or 1.0
            entry["decode_speedup_vs_fp32"] = {
                p: round(v["decode_tokens_per_s"] / base, 2) for p, v in speeds.items()
            }
        results[name] = entry
        print(json.dumps({name: entry}, indent=2), flush=True)
    if args.llama:
        results["llama_cpp"] = llama_cpp(args.threads, args.new_tokens)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
