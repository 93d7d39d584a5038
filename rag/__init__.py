"""rag: local-first retrieval-augmented assistant (query side and CLI)."""

__version__ = "0.1.0"
