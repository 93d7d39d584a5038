"""Generator protocol, the transformers generator (streaming, int8 on CPU), an optional llama.cpp
one, and a scripted fake."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from core.files import replacing
from core.registry import Registry
from rag.errors import ModelError
from rag.loops import looping

Message = dict[str, str]
OnToken = Callable[[str], None]


@dataclass
class Generation:
    text: str
    input_tokens: int
    output_tokens: int
    seconds: float
    first_token_s: float
    interrupted: bool = False


class Generator(Protocol):
    name: str

    def generate(
        self,
        messages: Sequence[Message],
        *,
        max_new_tokens: int = 256,
        on_token: OnToken | None = None,
        stop: threading.Event | None = None,
    ) -> Generation: ...

    def count_tokens(self, text: str) -> int: ...


# fp32: exact. bf16: half the memory, bf16 matmuls. int8: int8 weights, bf16 matmuls, activations
# kept (rag/quantize.py). int8-dynamic: int8 weights and int8 activations (torch quantize_dynamic).
PRECISIONS = ("fp32", "bf16", "int4", "int8", "int8-dynamic")

GENERATORS: Registry[Generator] = Registry("generator")
register_generator = GENERATORS.register


def make_generator(backend: str, model: str, **kwargs: Any) -> Generator:
    return GENERATORS.make(backend, model, **kwargs)


@register_generator("transformers", model_role="generator")
class TransformersGenerator:
    def __init__(
        self,
        model: str,
        *,
        device: str = "cpu",
        quantize: bool = True,
        threads: int | None = None,
        name: str | None = None,
        cache_dir: Path | None = None,
        precision: str,
        repetition_penalty: float,
        prompt_lookup: int = 0,
        draft: str | None = None,
        draft_tokens: int = 3,
        **_: Any,
    ) -> None:
        import torch
        from transformers import AutoTokenizer

        if threads:
            torch.set_num_threads(threads)
        self.device = device
        self.name = name or model
        self.repetition_penalty = repetition_penalty
        # Draft tokens copied from the prompt where the answer's last words occur in it (answers
        # quote their sources); checked in one forward pass, so greedy output is unchanged.
        self.prompt_lookup = prompt_lookup
        # quantize=False (RAG_QUANTIZE) keeps every model exact; off the CPU there is no int8 path.
        self.precision = precision if quantize and device == "cpu" else "fp32"
        if self.precision not in PRECISIONS:
            raise ModelError(f"unknown generator precision {precision!r} (known: {', '.join(PRECISIONS)})")
        logging.getLogger("rag.generate").info(
            "loading the generator %s (%s): seconds; `rag serve` keeps it loaded", self.name, self.precision
        )
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model)
            self.model: Any = self._load_precision(model, cache_dir)
            # Assisted decoding: a smaller model of the same family proposes `draft_tokens` tokens,
            # this one checks them in one forward pass, so greedy output is unchanged.
            self.draft: Any = self._load_precision(draft, cache_dir) if draft else None

        except Exception as exc:
            raise ModelError(f"cannot load generator {model!r}: {str(exc).splitlines()[0]}") from None
        self.model.eval()
        if self.draft is not None:
            self.draft.eval()
            self.draft.generation_config.num_assistant_tokens = draft_tokens

    def _load_precision(self, model: str, cache_dir: Path | None) -> Any:
        import torch

        def fp32() -> Any:
            return self._load(model, torch.float32)

        from rag.quantize import (
            float_rest,
            half_embeddings,
            quantize_dynamic_int8,
            quantize_weights_int4,
            quantize_weights_int8,
        )

        if self.precision == "int8-dynamic":
            return _cached(model, cache_dir, "per-channel", lambda: quantize_dynamic_int8(fp32()))
        weight_only = {
            "int8": ("weight-int8-h", quantize_weights_int8),
            "int4": ("weight-int4-grid", quantize_weights_int4),
        }
        if self.precision in weight_only:
            # Quantized from the checkpoint's own dtype (exactly the weights an fp32 load holds),
            # embeddings looked up in half precision and the rest put back to fp32: the same
            # outputs as from an fp32 load, without ever holding the fp32 model.
            tag, quantize = weight_only[self.precision]
            return _cached(
                model,
                cache_dir,
                tag,
                lambda: quantize(float_rest(half_embeddings(self._load(model, "auto")))),
            )
        if self.precision == "bf16":
            return self._load(model, torch.bfloat16).to(self.device)
        return self._load(model, torch.float32 if self.device == "cpu" else torch.float16).to(self.device)

    @staticmethod
    def _load(model: str, dtype: Any) -> Any:
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_pretrained(model, dtype=dtype)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate(
        self,
        messages: Sequence[Message],
        *,
        max_new_tokens: int = 256,
        on_token: OnToken | None = None,
        stop: threading.Event | None = None,
    ) -> Generation:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        stop_event = stop or threading.Event()
        prompt = self.tokenizer.apply_chat_template(
            list(messages), add_generation_prompt=True, tokenize=False
        )
        inputs = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(self.device)
        n_in = int(inputs["input_ids"].shape[1])
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)

        class _Stop(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return stop_event.is_set() or looping(input_ids[0, n_in:].tolist())

        output: dict[str, Any] = {}

        def run() -> None:
            try:
                with torch.inference_mode():
                    output["ids"] = self.model.generate(
                        **inputs,
                        max_new_tokens=max_new_tokens,
                        do_sample=False,
                        repetition_penalty=self.repetition_penalty,
                        streamer=streamer,
                        **({"prompt_lookup_num_tokens": self.prompt_lookup} if self.prompt_lookup else {}),
                        **({"assistant_model": self.draft} if self.draft is not None else {}),
                        stopping_criteria=StoppingCriteriaList([_Stop()]),
                        pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
                    )
            except BaseException as exc:  # surfaced in the caller's thread
                output["error"] = exc
                streamer.end()

        t0 = time.perf_counter()
        first = 0.0
        pieces: list[str] = []
        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        try:
            for piece in streamer:
                if not first and piece:
                    first = time.perf_counter() - t0
                pieces.append(piece)
                if on_token is not None and piece:
                    on_token(piece)
        except KeyboardInterrupt:
            stop_event.set()
        finally:
            worker.join()
        if "error" in output:
            raise ModelError(f"generation failed: {output['error']}")
        ids = output.get("ids")
        n_out = int(ids.shape[1]) - n_in if ids is not None else len(pieces)
        return Generation(
            "".join(pieces), n_in, n_out, time.perf_counter() - t0, first, interrupted=stop_event.is_set()
        )


def _cached(model: str, cache_dir: Path | None, tag: str, build: Callable[[], Any]) -> Any:
    """A quantized model, built once and kept as our own file in the model cache's int8/ folder, keyed
    by model, quantization and library versions: quantizing costs more than reloading the file."""
    import torch
    import transformers

    if cache_dir is None:
        return build()
    key = f"{Path(model).resolve()}|{torch.__version__}|{transformers.__version__}|{tag}"
    target = cache_dir / "int8" / f"{Path(model).name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.pt"
    if target.exists():
        try:
            return torch.load(target, weights_only=False)
        except Exception:
            target.unlink(missing_ok=True)  # damaged: rebuilt below
    logging.getLogger("rag.generate").info(
        "quantizing the generator to int8 (once; under a minute), cached in %s", target.parent
    )
    quantized = build()
    with replacing(target, prefix=".int8-", suffix=".pt") as tmp:
        torch.save(quantized, tmp)
    return quantized


@register_generator("llama-cpp", model_role="gguf")
class LlamaCppGenerator:
    """llama.cpp on the GGUF file itself, through llama-cpp-python: optional (`pip install
    llama-cpp-python` compiles llama.cpp for this CPU; nothing in the default install needs a
    compiler). Selected with RAG_GENERATOR_BACKEND=llama-cpp; greedy, like the default."""

    def __init__(
        self, model: str, *, threads: int | None = None, name: str | None = None, repetition_penalty: float = 1.0,
        context: int = 8192, **_: Any,
    ) -> None:  # fmt: skip
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ModelError(
                "the llama-cpp generator needs llama-cpp-python: pip install llama-cpp-python "
                "(it compiles llama.cpp: a C compiler and cmake are needed)"
            ) from None
        self.name = name or Path(model).stem
        self.repetition_penalty = repetition_penalty
        logging.getLogger("rag.generate").info("loading the generator %s (llama.cpp)", self.name)
        try:
            self.llm: Any = Llama(
                model_path=model, n_threads=threads or os.cpu_count(), n_ctx=context, verbose=False
            )
        except Exception as exc:
            raise ModelError(f"cannot load generator {model!r}: {str(exc).splitlines()[0]}") from None

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def generate(
        self,
        messages: Sequence[Message],
        *,
        max_new_tokens: int = 256,
        on_token: OnToken | None = None,
        stop: threading.Event | None = None,
    ) -> Generation:
        t0 = time.perf_counter()
        first, pieces, interrupted = 0.0, [], False
        stream = self.llm.create_chat_completion(
            list(messages), max_tokens=max_new_tokens, temperature=0.0, repeat_penalty=self.repetition_penalty,
            stream=True,
        )  # fmt: skip
        try:
            for part in stream:
                if stop is not None and stop.is_set():
                    interrupted = True
                    break
                piece = part["choices"][0]["delta"].get("content") or ""
                if piece:
                    first = first or time.perf_counter() - t0
                    pieces.append(piece)
                    if on_token is not None:
                        on_token(piece)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            stream.close()
        text = "".join(pieces)
        n_in = sum(self.count_tokens(m["content"]) for m in messages)
        return Generation(text, n_in, self.count_tokens(text), time.perf_counter() - t0, first, interrupted)


@register_generator("scripted")
class ScriptedGenerator:
    """Replies from a queue (`enqueue`), else echoes a short cited answer from the first source.
    Records every prompt it was given, for tests."""

    def __init__(self, model: str = "", **_: Any) -> None:
        self.name = "scripted"
        # A number as the model spec: seconds per token, so tests can stop a generation mid-way.
        self.delay = float(model) if model.replace(".", "", 1).isdigit() else 0.0
        self.replies: list[str] = []
        self.prompts: list[list[Message]] = []

    def enqueue(self, *replies: str) -> None:
        self.replies.extend(replies)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(
        self,
        messages: Sequence[Message],
        *,
        max_new_tokens: int = 256,
        on_token: OnToken | None = None,
        stop: threading.Event | None = None,
    ) -> Generation:
        self.prompts.append([dict(m) for m in messages])
        if self.replies:
            text = self.replies.pop(0)
        else:
            user = messages[-1]["content"]
            start = user.find("\n[1] (")
            if start >= 0:  # an answer prompt: repeat the first sentence of source 1, cited
                body = user[user.find("\n", start + 1) + 1 :]
                text = f"{body.split('.')[0].strip()} [1]."
            else:  # a rewrite or summary prompt: echo the question
                marker = "Last question:"
                text = (
                    user[user.rfind(marker) + len(marker) :].strip().splitlines()[0]
                    if marker in user
                    else "ok"
                )
        words = text.split(" ")[:max_new_tokens]
        out = []
        for i, word in enumerate(words):
            if stop is not None and stop.is_set():
                break
            if self.delay:
                time.sleep(self.delay)
            piece = word if i == 0 else " " + word
            out.append(piece)
            if on_token is not None:
                on_token(piece)
        n_in = sum(self.count_tokens(m["content"]) for m in messages)
        return Generation("".join(out), n_in, len(out), 0.0, 0.0, interrupted=bool(stop and stop.is_set()))
