"""Ingestion side of rag: load files, chunk them, embed the chunks and keep a Chroma collection in sync.

Data flows one way: this package writes the store and never imports `rag`.
"""
