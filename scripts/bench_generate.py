"""Generator benchmark: GGUF conversion and cache reload time, time to first token, decode
tokens/s and the whole answer's time for both bundled generators at each precision (fp32, bf16,
int8 weights, dynamic int8), with prompt-lookup drafts (tokens confirmed per forward pass), and
llama.cpp on the same GGUF: the same ~1k-token RAG prompt, answer length and thread count.
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
from typing import Any

from core.types import Chunk
from ingest.loaders import LoadOptions, loader_for
from rag.answer import answer_messages
from rag.cli_common import quiet_libraries
from rag.config import Settings, load_settings
from rag.generate import Message
from rag.models import describe, forget_conversion, resolve
from rag.types import Hit, Passage
from rag.wiring import generator_provider

ROOT = Path(__file__).resolve().parents[1]

QUESTION = "Why do residual connections help very deep networks, and what else fixed vanishing gradients?"
LECTURES = ("deep-learning-01-gradients.srt", "retrieval-03-bm25.md", "historia-04-lovelace.srt")


def prompt_messages(target_tokens: int = 1000) -> list[Message]:
    """A realistic RAG prompt built by the answer path itself: sample-corpus lectures as numbered
    sources, as many as reach about `target_tokens` (4 characters a token), the last one cut."""
    passages: list[Passage] = []
    budget = target_tokens * 4
    for n, name in enumerate(LECTURES, start=1):
        path = ROOT / "corpus" / "lectures" / name
        loader = loader_for(path)
        assert loader is not None
        doc = loader(path, LoadOptions())
        text = " ".join(u.text for u in doc.units)[:budget]
        budget -= len(text)
        chunk = Chunk(
            id=f"bench{n}",
            text=text,
            source=str(path),
            chunk_index=0,
            title=path.stem,
            kind=doc.kind,
            content_hash="",
        )
        passages.append(Passage(n, Hit(chunk), [chunk], text))
        if budget <= 0:
            break
    style = load_settings().answer_prompt
    return answer_messages(QUESTION, "en", passages, "", style)


def measure(s: Settings, new_tokens: int, prompt_tokens: int) -> dict[str, Any]:
    t = time.perf_counter()
    gen = generator_provider(s)()
    load_s = time.perf_counter() - t
    # A fixed answer length to time: reach past the Generator protocol to the transformers model.
    model = gen.model  # type: ignore[attr-defined]
    model.generation_config.min_new_tokens = new_tokens
    calls = [0]
    forward = model.forward

    def counted(*args: object, **kwargs: object) -> object:
        calls[0] += 1
        return forward(*args, **kwargs)

    model.forward = counted
    out = gen.generate(prompt_messages(prompt_tokens), max_new_tokens=new_tokens)
    decode_s = out.seconds - out.first_token_s
    result = {
        "load_s": round(load_s, 2),
        "input_tokens": out.input_tokens,
        "output_tokens": out.output_tokens,
        "time_to_first_token_s": round(out.first_token_s, 2),
        "decode_tokens_per_s": round((out.output_tokens - 1) / decode_s, 2) if decode_s > 0 else 0.0,
        "answer_s": round(out.seconds, 2),
        # 1.0 without drafts; with prompt lookup, how many tokens each forward pass confirmed.
        "tokens_per_forward": round(out.output_tokens / max(1, calls[0]), 2),
        "text_head": out.text[:160],
    }
    del gen, model
    gc.collect()
    return result


def llama_cpp(models: list[str], threads: int, new_tokens: int, prompt_tokens: int) -> dict[str, object]:
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
        for name in models:
            bundled = BUNDLED[name]
            gguf = Path(tmp) / f"{name}.gguf"
            assert bundled.sha256 is not None
            assemble(gguf_parts(bundled), gguf, bundled.sha256)
            llm: Any = Llama(model_path=str(gguf), n_threads=threads, n_ctx=4096, verbose=False)
            banned = {llm.token_eos(), *llm.tokenize(b"<|im_end|>", add_bos=False, special=True)}
            t0 = time.perf_counter()
            first, count = 0.0, 0
            # EOS banned: the same answer length as the transformers runs (min_new_tokens).
            stream = llm.create_chat_completion(
                prompt_messages(prompt_tokens),
                max_tokens=new_tokens,
                stream=True,
                temperature=0,
                logit_bias=dict.fromkeys(banned, -1e9),
            )
            for part in stream:
                if part["choices"][0]["delta"].get("content"):
                    count += 1
                    first = first or time.perf_counter() - t0
            total = time.perf_counter() - t0
            results[name] = {
                "time_to_first_token_s": round(first, 2),
                "decode_tokens_per_s": round((count - 1) / (total - first), 2) if count > 1 else 0.0,
                "answer_s": round(total, 2),
                "output_chunks": count,
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
    ap.add_argument("--new-tokens", type=int, default=120)
    ap.add_argument("--prompt-tokens", type=int, default=1000, help="about this long a RAG prompt")
    ap.add_argument("--packed-prefill", action="store_true", help="also time int8 with the old prompt path")
    ap.add_argument("--lookups", default="0", help="prompt-lookup draft lengths to time with int8, e.g. 0,10")
    ap.add_argument(
        "--precisions", default="fp32,bf16,int8,int8-dynamic", help="generator precisions to time"
    )
    ap.add_argument(
        "--llama", action="store_true", help="also time llama.cpp (llama-cpp-python) on the same GGUF"
    )
    ap.add_argument("--drafts", default="", help="draft generators to time int8 assisted decoding with")
    ap.add_argument("--draft-tokens", type=int, default=3)
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
                s.model_copy(update={"generator_precision": precision}), args.new_tokens, args.prompt_tokens
            )
            if precision == "int8" and args.packed_prefill:
                # The prompt through the packed int8 kernel too (before the widened bf16 path).
                import rag.quantize

                rows, rag.quantize.PREFILL_ROWS = rag.quantize.PREFILL_ROWS, 1 << 30
                entry["int8-packed-prefill"] = measure(
                    s.model_copy(update={"generator_precision": precision}),
                    args.new_tokens,
                    args.prompt_tokens,
                )
                rag.quantize.PREFILL_ROWS = rows
            for lookup in [int(n) for n in args.lookups.split(",") if int(n)] if precision == "int8" else []:
                entry[f"int8+lookup{lookup}"] = measure(
                    s.model_copy(update={"generator_precision": "int8", "prompt_lookup": lookup}),
                    args.new_tokens,
                    args.prompt_tokens,
                )
            for draft in [d for d in args.drafts.split(",") if d] if precision == "int8" else []:
                entry[f"int8+draft:{draft}"] = measure(
                    s.model_copy(
                        update={
                            "generator_precision": "int8",
                            "draft_generator": draft,
                            "draft_tokens": args.draft_tokens,
                        }
                    ),
                    args.new_tokens,
                    args.prompt_tokens,
                )
        if "fp32" in speeds:
            base = speeds["fp32"]["decode_tokens_per_s"] or 1.0
            entry["decode_speedup_vs_fp32"] = {
                p: round(v["decode_tokens_per_s"] / base, 2) for p, v in speeds.items()
            }
        results[name] = entry
        print(json.dumps({name: entry}, indent=2), flush=True)
    if args.llama:
        results["llama_cpp"] = llama_cpp(
            args.models.split(","), args.threads, args.new_tokens, args.prompt_tokens
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
