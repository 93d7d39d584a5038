"""The shared core both halves build on: typed records, errors, the backend registry, the embedder
and vector-store backends, the lexical index and text rules. It imports nothing from `ingest` or `rag`."""
