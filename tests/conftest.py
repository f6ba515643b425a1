"""Fixtures shared by the whole suite.

Expensive things are made once per session: the real embedding model is loaded once and
shared by every in-process embedder server (each test still gets its own server and
settings, so tests stay independent).
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def text_encoder():
    """The real all-MiniLM-L6-v2 model, loaded once."""
    from scia.embedder.model import TextEncoder

    return TextEncoder(torch_threads=2)


@pytest.fixture
async def embedder(text_encoder):
    """A real embedder gRPC server on loopback with default settings; yields its target."""
    from tests.helpers import serve_embedder

    async with serve_embedder(text_encoder) as running:
        yield running
