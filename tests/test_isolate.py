"""The GGUF conversion runs in a fresh process (its freed heap would otherwise stay under the
generator and embedder loaded next): status lines, results and errors must cross back."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from rag.errors import ModelError
from rag.isolate import in_fresh_process


def _work(n: int, *, on_status: Callable[[str], None]) -> dict[str, int]:
    on_status("step one")
    on_status("step two")
    return {"pid": os.getpid(), "n": n * 2}


def _fails(*, on_status: Callable[[str], None]) -> None:
    on_status("about to fail")
    raise ModelError("cannot read GGUF broken.gguf: bad magic")


def _dies(*, on_status: Callable[[str], None]) -> None:
    os._exit(3)  # as the out-of-memory killer would: no report, no exception


def test_result_and_status_lines_come_back_from_another_process() -> None:
    lines: list[str] = []
    result = in_fresh_process(_work, 21, on_status=lines.append)
    assert result["n"] == 42 and result["pid"] != os.getpid()
    assert lines == ["step one", "step two"]


def test_an_error_in_the_child_is_raised_here_with_its_message() -> None:
    lines: list[str] = []
    with pytest.raises(ModelError, match="bad magic"):
        in_fresh_process(_fails, on_status=lines.append)
    assert lines == ["about to fail"]


def test_a_child_that_dies_without_reporting_is_an_error_not_a_hang() -> None:
    with pytest.raises(RuntimeError, match="exit code 3"):
        in_fresh_process(_dies, on_status=print)
