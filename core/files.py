"""Files that appear whole: written beside their target and renamed into place."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(target: Path, *, prefix: str = ".tmp-", suffix: str = "") -> Iterator[Path]:
    """A fresh temporary file beside `target`; renamed onto it when the block succeeds and
    removed when it fails, so a reader (or a crash) never leaves a half-written `target`.
    mkstemp creates it readable by this user only, which files holding a token need."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(target: Path, text: str, *, prefix: str = ".tmp-", suffix: str = "") -> None:
    """`target` gets `text` (UTF-8) in one rename."""
    with replacing(target, prefix=prefix, suffix=suffix) as tmp:
        tmp.write_text(text, encoding="utf-8")
