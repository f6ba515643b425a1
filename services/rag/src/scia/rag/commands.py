"""`scia-rag import-v1`, `scia-rag train-reranker` and `scia-rag evaluate-reranker`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sqlite3
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict
from pathlib import Path

import grpc
from scia.rag import validation
from scia.rag.rerank_input import DEFAULT_FORMAT, FORMATS
from scia.rag.v1 import V1_COLUMNS, Converted, convert_row
from scia.runtime.client import create_channel
from scia.v1 import rag_pb2, rag_pb2_grpc

RAG_SERVICE = rag_pb2.DESCRIPTOR.services_by_name["DeploymentMemory"]
DEFAULT_TARGET = os.environ.get("SCIA_RAG_TARGET", "127.0.0.1:50052")


class CommandError(Exception):
    """A problem the user must fix; printed without a traceback."""


# --- import-v1 -----------------------------------------------------------------------------------


def open_v1(path: Path) -> tuple[sqlite3.Connection, list[str]]:
    """The v1 database, read-only, and the v1 columns it has. Checked before any RPC starts, so a
    wrong file is a clear error rather than an aborted stream."""
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        columns = {row[1] for row in conn.execute("PRAGMA table_info(deployments)")}
    except sqlite3.DatabaseError as error:
        raise CommandError(f"{path}: not a SQLite database: {error}") from None
    if not columns:
        conn.close()
        raise CommandError(f"{path}: no `deployments` table (is it a SCIA v1 database?)")
    missing = [c for c in ("id", "user_prompt", "status", "created_at") if c not in columns]
    if missing:
        conn.close()
        raise CommandError(f"{path}: the deployments table lacks the v1 columns {', '.join(missing)}")
    conn.row_factory = sqlite3.Row
    return conn, [c for c in V1_COLUMNS if c in columns]


def read_v1_rows(conn: sqlite3.Connection, columns: list[str]) -> Iterator[dict]:
    """Rows of the v1 `deployments` table, oldest first."""
    for row in conn.execute(f"SELECT {', '.join(columns)} FROM deployments ORDER BY created_at, id"):  # noqa: S608 (fixed names)
        yield dict(row)


async def import_v1(path: Path, tenant: str, target: str, timeout: float) -> rag_pb2.ImportSummary:
    """Stream the converted rows to the service's Import RPC; the conversion's own skips are
    merged into the returned summary."""
    local_skips: list[Converted] = []
    conn, columns = open_v1(path)

    async def requests() -> AsyncIterator[rag_pb2.ImportRequest]:
        for row in read_v1_rows(conn, columns):
            converted = convert_row(row)
            if converted.record is None:
                local_skips.append(converted)
                continue
            yield rag_pb2.ImportRequest(tenant=tenant, record=converted.record, source_key=converted.source_key)

    channel = create_channel(target, [RAG_SERVICE], streaming_timeout=timeout)
    try:
        summary = await rag_pb2_grpc.DeploymentMemoryStub(channel).Import(requests())
    finally:
        await channel.close()
        conn.close()
    summary.received += len(local_skips)
    summary.skipped += len(local_skips)
    summary.skipped_records.extend(
        rag_pb2.SkippedRecord(source_key=s.source_key, reason=s.skip_reason) for s in local_skips
    )
    return summary


def _import_command(args: argparse.Namespace) -> int:
    try:
        validation.tenant(args.tenant, "--tenant")
    except validation.InvalidArgument as error:
        raise CommandError(str(error)) from None
    try:
        summary = asyncio.run(import_v1(Path(args.file), args.tenant, args.target, args.timeout))
    except grpc.aio.AioRpcError as error:
        raise CommandError(f"import failed: {error.code().name}: {error.details()} (target {args.target})") from None
    if args.json:
        from google.protobuf import json_format

        print(
            json_format.MessageToJson(
                summary, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
            )
        )
    else:
        print(
            f"read {summary.received} rows: {summary.created} created, {summary.updated} updated, "
            f"{summary.skipped} skipped"
        )
        for skipped in summary.skipped_records:
            print(f"  skipped {skipped.source_key}: {skipped.reason}")
    return 0


# --- train-reranker ------------------------------------------------------------------------------


async def _records_from_store(tenants: list[str], limit: int) -> list:
    from scia.rag.config import RagSettings
    from scia.rag.db import EmbeddedPostgres, migrate, open_pool
    from scia.rag.store import DeploymentStore

    settings = RagSettings()
    embedded = None
    dsn = settings.dsn
    if not dsn:
        embedded = EmbeddedPostgres(settings.data_dir)
        dsn = await embedded.start(database=settings.embedded_database)
    try:
        await migrate(dsn)
        pool = await open_pool(dsn, min_size=1, max_size=2, timeout=30, statement_timeout_ms=0)
        try:
            store = DeploymentStore(pool)
            records, cursor = [], None
            while len(records) < limit:
                page, cursor, _ = await store.list(
                    tenants, rag_pb2.DeploymentFilter(), min(500, limit - len(records)), cursor
                )
                records += page
                if cursor is None:
                    break
            return records
        finally:
            await pool.close()
    finally:
        if embedded is not None:
            await embedded.stop()


def _train_command(args: argparse.Namespace) -> int:
    from scia.rag import training

    if args.pairs:
        try:
            pairs = training.read_pairs(Path(args.pairs))
        except (OSError, ValueError) as error:
            raise CommandError(str(error)) from None
        source = args.pairs
    else:
        if not args.tenant:
            raise CommandError("give --pairs FILE.jsonl, or --tenant T (repeatable) to learn from stored deployments")
        for tenant in args.tenant:
            try:
                validation.tenant(tenant, "--tenant")
            except validation.InvalidArgument as error:
                raise CommandError(str(error)) from None
        records = asyncio.run(_records_from_store(args.tenant, args.max_records))
        pairs = training.pairs_from_records(
            records, negatives=args.negatives, seed=args.seed, input_format=args.input_format
        )
        source = f"{len(records)} stored deployments of {', '.join(args.tenant)}"
    if len(pairs) < args.min_pairs:
        raise CommandError(f"{len(pairs)} training pairs from {source}: fewer than --min-pairs {args.min_pairs}")
    try:
        report = training.train(
            pairs,
            Path(args.output_dir),
            base_model=Path(args.base_model) if args.base_model else None,
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            head_learning_rate=args.head_learning_rate,
            warmup_share=args.warmup_share,
            max_length=args.max_length,
            trainable_layers=None if args.trainable_layers == 0 else args.trainable_layers,
            layers=None if args.layers == 0 else args.layers,
            input_format=args.input_format,
            torch_threads=args.torch_threads,
            seed=args.seed,
        )
    except ValueError as error:
        raise CommandError(str(error)) from None
    except ImportError as error:
        raise CommandError(f"training needs the rerank extra (pip install 'scia-rag[rerank]'): {error}") from None
    print(json.dumps(asdict(report), indent=2))
    print(
        f"{Path(args.output_dir) / 'current'} -> {report.version}; restart the RAG service to load it", file=sys.stderr
    )
    return 0


# --- evaluate-reranker ---------------------------------------------------------------------------


def _evaluate_command(args: argparse.Namespace) -> int:
    from scia.rag.embedding import EmbedderClient, EmbedderUnavailable
    from scia.rag.evaluation import ORDERINGS, EvaluationSet, evaluate, fit_calibration
    from scia.rag.reranker import load_reranker

    try:
        evaluation_set = EvaluationSet.read(Path(args.eval_set))
    except (OSError, ValueError) as error:
        raise CommandError(str(error)) from None
    reranker = None
    if args.fit_vector_weight and args.model == "none":
        raise CommandError("--fit-vector-weight needs a model (--model)")
    if args.model != "none":
        loaded = load_reranker(Path(args.model), quantize=args.quantize)
        if loaded.reranker is None:
            raise CommandError(f"{loaded.reason} (or pass --model none for the orderings without a model)")
        reranker = loaded.reranker

    async def measure() -> dict:
        client = EmbedderClient(args.embedder_target, args.timeout)
        try:
            if args.fit_vector_weight:
                score_range, weight, report = await fit_calibration(
                    evaluation_set, client, reranker, candidates=args.candidates, k=args.k
                )
                return {**report, "score_range_fitted": list(score_range), "vector_weight_fitted": weight}
            return await evaluate(evaluation_set, client, reranker, candidates=args.candidates, k=args.k)
        finally:
            await client.close()

    try:
        report = asyncio.run(measure())
    except EmbedderUnavailable as error:
        raise CommandError(str(error)) from None
    except ValueError as error:  # e.g. a structured-format model on a set without record protos
        raise CommandError(str(error)) from None
    if args.fit_vector_weight:
        from scia.rag.training import set_calibration

        assert reranker is not None
        set_calibration(
            reranker.path,
            report["vector_weight_fitted"],
            tuple(report["score_range_fitted"]),
            {"eval_set": str(args.eval_set), "queries": report["queries"], "k": report["k"],
             "candidates": report["candidates"], "curve": report["vector_weight_curve"],
             "quantized": reranker.quantized},
        )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"NDCG@{report['k']} over {report['queries']} queries, {report['candidates']} vector candidates each "
            f"({report['records']} records):"
        )
        key = f"ndcg_at_{report['k']}"
        for name in ORDERINGS:
            if name in report:
                print(f"  {name:<24} {report[name][key]:.4f}")
        if "vector_weight_fitted" in report:
            curve = ", ".join(f"{w}: {v:.4f}" for w, v in report["vector_weight_curve"].items())
            print(
                f"score_range fitted: {report['score_range_fitted']}; vector_weight fitted: "
                f"{report['vector_weight_fitted']} ({curve}); written to {args.model}"
            )
    return 0


# --- entry ---------------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="scia-rag", description="SCIA deployment memory commands.")
    commands = root.add_subparsers(dest="command", required=True)

    imp = commands.add_parser("import-v1", help="import SCIA v1 history (SQLite) through a running RAG service")
    imp.add_argument("file", help="the SCIA v1 SQLite database")
    imp.add_argument("--tenant", required=True, help="tenant (Kubernetes namespace) the history belongs to")
    imp.add_argument(
        "--target", default=DEFAULT_TARGET, help="RAG service gRPC target (default %(default)s, env SCIA_RAG_TARGET)"
    )
    imp.add_argument("--timeout", type=float, default=3600, help="seconds the whole import may take")
    imp.add_argument("--json", action="store_true", help="print the ImportSummary as JSON")
    imp.set_defaults(run=_import_command)

    tr = commands.add_parser("train-reranker", help="fine-tune the cross-encoder re-ranker (needs scia-rag[rerank])")
    tr.add_argument("--pairs", help="JSON lines of {query, text, label in [0, 1]}")
    tr.add_argument(
        "--tenant", action="append", help="learn from this tenant's stored deployments (SCIA_RAG_DSN); repeatable"
    )
    tr.add_argument("--max-records", type=int, default=5000)
    tr.add_argument("--negatives", type=int, default=3, help="sampled non-matching records per query")
    tr.add_argument("--min-pairs", type=int, default=32, help="refuse to train on fewer pairs")
    tr.add_argument(
        "--output-dir", default=".scia/models/cross-encoder", help="versioned models and the `current` symlink"
    )
    tr.add_argument("--base-model", help="model folder to start from (default: the bundled all-MiniLM-L6-v2)")
    tr.add_argument("--epochs", type=int, default=3)
    tr.add_argument("--batch-size", type=int, default=16)
    tr.add_argument("--learning-rate", type=float, default=3e-5, help="of the encoder")
    tr.add_argument(
        "--head-learning-rate", type=float, default=1e-3, help="of the new classification head (starts random)"
    )
    tr.add_argument("--warmup-share", type=float, default=0.1, help="share of the steps the learning rates warm up")
    tr.add_argument("--max-length", type=int, default=128, help="tokens of a (query, text) pair the model reads")
    tr.add_argument(
        "--layers",
        type=int,
        default=2,
        help="transformer layers kept of the base model, the first ones (0: all); fewer is faster to serve",
    )
    tr.add_argument(
        "--trainable-layers", type=int, default=0, help="top transformer layers trained (0: all; the rest stay frozen)"
    )
    tr.add_argument(
        "--input-format",
        default=DEFAULT_FORMAT,
        choices=FORMATS,
        help="how (query, record) pairs are written (--tenant builds them so; --pairs must be in it); "
        "recorded with the model, which the service feeds exactly that",
    )
    tr.add_argument("--torch-threads", type=int, default=0, help="0: torch's default (all cores)")
    tr.add_argument("--seed", type=int, default=0)
    tr.set_defaults(run=_train_command)

    ev = commands.add_parser(
        "evaluate-reranker", help="NDCG@k of the cross-encoder re-rank vs the plain vector order (needs scia-rag[rerank])"
    )
    ev.add_argument(
        "--eval-set",
        required=True,
        help="JSON lines of records and labelled queries (python -m bench.rag --eval-set FILE: with the protos a "
        "compact-v1 model needs; python -m bench.scenarios eval-set: texts only)",
    )
    ev.add_argument(
        "--model",
        default=os.environ.get("SCIA_RAG_RERANKER_MODEL_PATH", ".scia/models/cross-encoder/current"),
        help="cross-encoder folder (default: the service's SCIA_RAG_RERANKER_MODEL_PATH); 'none' for no model",
    )
    ev.add_argument(
        "--embedder-target",
        default=os.environ.get("SCIA_RAG_EMBEDDER_TARGET", "127.0.0.1:50051"),
        help="embedder gRPC target (default %(default)s, env SCIA_RAG_EMBEDDER_TARGET)",
    )
    ev.add_argument("--timeout", type=float, default=120, help="deadline of one Embed call")
    ev.add_argument("--candidates", type=int, default=20, help="vector candidates re-ranked per query")
    ev.add_argument("--k", type=int, default=5, help="NDCG cut-off")
    ev.add_argument(
        "--quantize",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get("SCIA_RAG_RERANKER_QUANTIZE", "true").lower() not in ("false", "0", "no"),
        help="int8 dynamic quantisation at load, as the service does (default: SCIA_RAG_RERANKER_QUANTIZE, true)",
    )
    ev.add_argument(
        "--fit-vector-weight",
        action="store_true",
        help="fit the served relevance: the range of the model's scores (stretched to [0, 1]), then the "
        "interpolation with the vector similarity at weights 0-1; writes both into the model's "
        "scia_training.json (the service then serves them): use a VALIDATION set, never the held-out one",
    )
    ev.add_argument("--json", action="store_true", help="print the report as JSON")
    ev.set_defaults(run=_evaluate_command)
    return root


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.run(args)
    except CommandError as error:
        print(f"scia-rag {args.command}: {error}", file=sys.stderr)
        return 1
