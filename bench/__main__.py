"""Run the benchmarks: `python -m bench [NAME ...]` (default: all). Results go to bench/results/."""

from __future__ import annotations

import argparse
import importlib
import os

from bench.common import exit_on_sigterm, write_results

BENCHMARKS = ["embedder", "gateway", "planner", "operator", "rag"]


def main() -> None:
    exit_on_sigterm()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], default=BENCHMARKS)
    for name in parser.parse_args().names or BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")
        results = module.run()
        path = write_results(name, results)
        print(f"\n## {name} ({path.relative_to(path.parents[2])})\n\n{module.summary(results)}\n")


if __name__ == "__main__":
    main()
