"""SCIA embedder service."""
