"""`scia-embedder` / `python -m scia.embedder`: run the embedder service."""

from scia.embedder.config import EmbedderSettings
from scia.embedder.service import EmbedderApp
from scia.runtime.server import run


def main() -> None:
    run("embedder", EmbedderSettings, EmbedderApp)


if __name__ == "__main__":
    main()
