"""`scia-rag` / `python -m scia.rag`: run the RAG service, or one of its commands.

scia-rag                                    serve (configuration from SCIA_RAG_* variables)
scia-rag import-v1 FILE --tenant T          import SCIA v1 history from its SQLite file
scia-rag train-reranker                     fine-tune the cross-encoder re-ranker
"""

from __future__ import annotations

import sys

from scia.rag.config import RagSettings
from scia.rag.service import RagApp
from scia.runtime.server import run

COMMANDS = ("import-v1", "train-reranker", "evaluate-reranker")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in COMMANDS:
        from scia.rag.commands import main as command_main

        sys.exit(command_main(argv))
    if argv and argv[0] not in ("serve",):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    run("rag", RagSettings, RagApp)


if __name__ == "__main__":
    main()
