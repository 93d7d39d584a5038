"""Error types for the query side; all derive from the shared RagError the CLI reports in one line."""

from __future__ import annotations

from core.errors import EmbedderMismatch, InputError, ModelError, RagError, StoreError

__all__ = [
    "ChecksumError",
    "EmbedderMismatch",
    "InputError",
    "ModelError",
    "ModelMissing",
    "RagError",
    "StoreError",
]


class ModelMissing(ModelError):
    """A bundled model's package is not installed; the message carries the install command."""


class ChecksumError(ModelError):
    """Assembled weights do not match their published sha256."""
