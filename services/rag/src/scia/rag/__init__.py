"""SCIA deployment memory (RAG) service."""
