"""The one typed settings object. Precedence: explicit values > RAG_* environment > config file > defaults.
Only the CLI reads it; everything below takes plain arguments."""

from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def default_home() -> Path:
    return Path(os.environ.get("RAG_HOME") or Path.home() / ".rag").expanduser()


def default_model_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "rag" / "models"


def config_file() -> Path:
    explicit = os.environ.get("RAG_CONFIG")
    return Path(explicit).expanduser() if explicit else default_home() / "config.toml"


class Settings(BaseSettings):
    """Every default of the project, and the only place defaults live. The README's settings table
    is checked against these fields (tests/test_config.py)."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    home: Path = Field(
        default_factory=default_home, description="Where stores, sessions and model caches live"
    )
    store: Path | None = Field(
        None, description="Embedded Chroma folder, with the manifest and BM25 index (unset: $RAG_HOME/store)"
    )
    model_cache: Path | None = Field(
        None,
        description="Where pulled and converted models live, shared by every home (unset: $XDG_CACHE_HOME/rag/models)",
    )
    collection: str = Field("default", description="Collection name")
    chroma_url: str | None = Field(None, description="Chroma server URL; embedded store when unset")
    chroma_token: str | None = Field(None, description="Bearer token for the Chroma server")

    embedder: str = Field(
        "embeddinggemma-300m",
        description="Embedder: embeddinggemma-300m (multilingual), all-MiniLM-L6-v2 (English, fast), a local folder or a hub id",
    )
    embedder_backend: str = Field("sentence-transformers", description="Embedder registry entry")
    generator: str = Field(
        "qwen2.5-coder-1.5b-instruct",
        description="Generator: qwen2.5-coder-1.5b-instruct, qwen2.5-coder-0.5b-instruct (faster), a folder, a .gguf file or a hub id",
    )
    generator_backend: str = Field("transformers", description="Generator registry entry")
    transcriber: str = Field(
        "whisper-base",
        description="Speech-to-text for audio and video: whisper-base (bundled, multilingual), a local faster-whisper folder or a hub id",
    )
    transcriber_backend: str = Field("faster-whisper", description="Transcriber registry entry")
    reranker: str | None = Field(
        None,
        description="Cross-encoder: the built-in rag-reranker-minilm-l6, any sentence-transformers cross-encoder folder or hub id; unset: no reranking (over embeddinggemma-300m candidates ours lowered R@1)",
    )
    reranker_backend: str = Field("cross-encoder", description="Reranker registry entry")
    rerank_fusion: bool = Field(
        True,
        description="Order by rank fusion of the reranker's and the retrieval order; false: by reranker score alone (for a cross-encoder stronger than ours)",
    )

    chunk_tokens: int = Field(
        96, ge=16, description="Sliding-window size in embedder tokens, capped by the embedder's limit"
    )
    chunk_overlap: int = Field(32, ge=0, description="Tokens shared by consecutive chunks")
    max_file_mb: int = Field(200, ge=1, description="Files larger than this are skipped")

    quantize: bool = Field(
        True,
        description="Quantize on CPU: the generator to generator_precision, the reranker to dynamic int8; false: both fp32",
    )
    device: str = Field("cpu", description="torch device for the models")
    threads: int | None = Field(None, description="torch threads for generation (default: torch's)")
    allow_network: bool = Field(
        False,
        description="Allow hub downloads for model specs that are hub ids (HF_HUB_OFFLINE=1 always wins)",
    )

    serve_host: str = Field(
        "127.0.0.1", description="Address `rag serve` listens on; anything but loopback needs serve_token"
    )
    serve_port: int = Field(
        8765, ge=0, le=65535, description="Port `rag serve` listens on (0: any free port)"
    )
    serve_token: str | None = Field(None, description="Bearer token `rag serve` requires of every client")
    server_backend: str = Field("uvicorn", description="ASGI server registry entry for `rag serve`")
    use_server: bool = Field(
        True,
        description="`rag ask` and `rag chat` answer through a running `rag serve` when one serves this store",
    )

    rerank_threshold: float | None = Field(
        None,
        description="Abstention threshold on the best rerank score (unset: calibrated, rag/calibration.json)",
    )
    dense_threshold: float | None = Field(
        None, description="Abstention threshold on the best dense similarity (unset: calibrated)"
    )

    top_k: int = Field(5, ge=1, description="Passages considered for the answer's context")
    candidates: int = Field(30, ge=1, description="Candidates retrieved by hybrid search")
    fusion: Literal["score", "rank"] = Field(
        "score",
        description="How dense and BM25 results become one ranking: by their scores (min-max scaled, blended) or by rank (reciprocal-rank fusion)",
    )
    dense_share: float = Field(
        0.7, ge=0, le=1, description="Score fusion: the dense leg's share of the blend (BM25 has the rest)"
    )
    dense_weight: float = Field(
        4.0, gt=0, description="Rank fusion: weight of the dense ranking against BM25's 1"
    )
    rerank_top: int = Field(20, ge=1, description="Candidates the reranker scores")
    context_tokens: int = Field(1200, ge=16, description="Generator tokens the passages may fill")
    context_keep: float = Field(
        0.55,
        ge=0,
        le=1,
        description="Without a reranker, passages whose fused score is at least this share of the best one go to the generator",
    )
    max_new_tokens: int = Field(320, ge=1, description="Longest answer, in generator tokens")
    memory_turns: int = Field(4, ge=0, description="Chat turns kept verbatim")
    answer_prompt: str = Field("classic", description="Answer prompt style: a pair of files in rag/prompts/")
    concise_answers: bool = Field(
        True,
        description="A question asking for a fact (not why/how/explain) gets no sentences citing other passages than its first cited sentence",
    )
    short_facts: bool = Field(
        False,
        description="A question asking for a fact is told to answer in 1-2 sentences, the fact first in the sources' words (rag/prompts/length-fact.txt); others get length-explanation.txt",
    )
    context_neighbours: int = Field(
        1, ge=0, description="Chunks on each side of a retrieved chunk added to its passage"
    )
    filters_from_question: bool = Field(
        True,
        description='A question naming one of the collection\'s speakers or documents ("según Don Beyer", "en el episodio 266") searches only their passages, for the rest of the question',
    )
    generator_precision: Literal["fp32", "bf16", "int4", "int8", "int8-dynamic"] = Field(
        "int8",
        description="Generator on CPU: fp32, bf16, int8 (int8 weights, bf16 matmuls), int4 (a 4-bit GGUF's own 4-bit weights where it has them, int8 elsewhere) or int8-dynamic (int8 weights and activations)",
    )
    repetition_penalty: float = Field(1.0, gt=0, description="Generator repetition penalty (1.0: none)")
    prompt_lookup: int = Field(
        0, ge=0, le=64, description="Draft tokens copied from the prompt per decoding step (0: off)"
    )
    draft_generator: str = Field(
        "",
        description="A smaller generator with the same tokenizer that drafts tokens for the generator to check (assisted decoding; empty: off)",
    )
    draft_tokens: int = Field(3, ge=1, le=32, description="Tokens the draft generator proposes per step")

    @property
    def store_dir(self) -> Path:
        return (self.store or self.home / "store").expanduser()

    @property
    def models_dir(self) -> Path:
        return (self.model_cache or default_model_cache()).expanduser()

    @property
    def sessions_dir(self) -> Path:
        return self.home / "sessions"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=config_file()))


def check_config_file() -> None:
    """The config file, if any, is readable TOML with known keys: a typo (`topk`) or a missing
    RAG_CONFIG file is an error naming it, not a setting silently left at its default."""
    from rag.errors import InputError

    path = config_file()
    if not path.exists():
        if os.environ.get("RAG_CONFIG"):
            raise InputError(f"RAG_CONFIG points at {path}, which does not exist")
        return
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise InputError(f"{path}: not a readable TOML file ({exc})") from None
    for key in data:
        if key not in Settings.model_fields:
            close = difflib.get_close_matches(key, list(Settings.model_fields), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InputError(f"{path}: unknown setting {key!r}{hint}")


def load_settings(**overrides: Any) -> Settings:
    check_config_file()
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
