"""The small error hierarchy shared by both halves; the CLI turns these into one red line and exit 1."""

from __future__ import annotations


class RagError(Exception):
    """An expected failure with a message meant for the user (no traceback)."""


class InputError(RagError):
    """A file or argument that cannot be used as given."""


class SkipFile(InputError):
    """A file left out on purpose (empty, over the size limit), not one that failed to load."""


class Cancelled(RagError):
    """The run was interrupted; work in progress is dropped, not recorded."""


class StoreError(RagError):
    """The vector store is missing, unreachable or inconsistent with the request. `reason` is what
    the store itself said, without the advice the message adds around it."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


class EmbedderMismatch(StoreError):
    """A collection was built with another embedder than the one asked for."""


class ModelError(RagError):
    """A model spec cannot be resolved or loaded."""
