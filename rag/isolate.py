"""Run one memory-hungry step in a fresh Python process and relay its status lines.

Converting a GGUF generator dequantizes every tensor; when it is done, glibc keeps about 2 GB of the
freed heap in the process that did it, and the generator and embedder loaded next sit on top of it:
that was the first run's peak memory. A child process gives all of it back when it exits.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Callable
from typing import Any

OnStatus = Callable[[str], None]


def _child(channel: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        result = fn(*args, on_status=lambda line: channel.put(("status", line)))
        channel.put(("done", result))
    except BaseException as exc:  # re-raised in the parent, KeyboardInterrupt included
        channel.put(("error", exc))


def in_fresh_process(fn: Callable[..., Any], *args: Any, on_status: OnStatus) -> Any:
    """fn(*args, on_status=…) in a spawned process; its result, or its exception, comes back.
    `fn` and its arguments must pickle (module-level function, plain values)."""
    context = multiprocessing.get_context("spawn")  # fork would copy this process's memory map
    channel = context.Queue()
    process = context.Process(target=_child, args=(channel, fn, args), daemon=True)
    process.start()
    try:
        while True:
            try:
                kind, value = channel.get(timeout=0.5)
            except queue.Empty:
                if process.exitcode is not None:  # killed (out of memory) before it could report
                    raise RuntimeError(f"the worker process died (exit code {process.exitcode})") from None
                continue
            if kind == "status":
                on_status(value)
            elif kind == "error":
                raise value
            else:
                return value
    finally:
        # Ctrl-C reaches the child too; give its clean-up (temporary folders) time to run.
        process.join(timeout=30)
        if process.is_alive():
            process.terminate()
            process.join()
