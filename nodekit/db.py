"""The database base every service shares: a synchronous SQLAlchemy engine, SQLite or PostgreSQL.

Why synchronous: the hot path (record a transaction, then sign its receipt) is one short
SQLite WAL write, about 0.1-0.3 ms here; an async driver (aiosqlite) would add a thread hop
and an event-loop round trip to every statement and slow that path down. Services run short
transactions directly and push long ones (rebuilding from L1, big batches) to a thread with
`asyncio.to_thread`. The same code runs on PostgreSQL through psycopg 3 (`postgresql://`
URLs are given the `+psycopg` driver).

SQLite connections get `journal_mode=WAL` (readers never block the writer),
`synchronous=NORMAL` (durable at every checkpoint; a power cut may lose the last
transactions, a process crash loses nothing), `foreign_keys=ON` and a busy timeout.

Each service declares its own declarative base, so that two services in one process (the
embedded devnet) keep separate table namespaces:

    class SequencerBase(DeclarativeBase):
        metadata = make_metadata()
        type_annotation_map = TYPE_ANNOTATION_MAP

`Base` below is such a base for tests and small tools.
"""

from __future__ import annotations

import os
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import (BigInteger, Engine, Integer, LargeBinary, MetaData, Numeric, String, create_engine,
                        event, make_url, pool, text)
from sqlalchemy.engine import URL
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

SQLITE_BUSY_TIMEOUT_MS = 5000

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class BigUint(TypeDecorator[int]):
    """A non-negative integer up to 2**256 - 1 (token amounts in wei, which overflow BIGINT).

    PostgreSQL: NUMERIC(78, 0), so sums and comparisons work in SQL. SQLite: a decimal string
    (SQLite's NUMERIC would round to a float); compare and sum in Python there.
    """

    impl = String(78)
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(78, 0))
        return dialect.type_descriptor(String(78))

    def process_bind_param(self, value: int | None, dialect: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"BigUint takes a non-negative int, got {value!r}")
        return Decimal(value) if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: Any) -> int | None:
        if value is None:
            return None
        return int(value)


BigInt = BigInteger().with_variant(Integer(), "sqlite")
"""64-bit integer: BIGINT on PostgreSQL, INTEGER on SQLite (already 64-bit there, and only an
INTEGER PRIMARY KEY is SQLite's auto-incrementing rowid)."""

MAX_DB_INT = 2**63 - 1
"""The largest int a BigInt column (or a query parameter) takes: both are signed 64-bit. Check
ints from requests against it at the edge; a larger one raises OverflowError in the driver."""

TYPE_ANNOTATION_MAP: dict[Any, Any] = {int: BigInt, bytes: LargeBinary}
"""`Mapped[int]` is a 64-bit integer (nonces, slots, block numbers outgrow PostgreSQL's INTEGER)
and `Mapped[bytes]` a BLOB / BYTEA. Use `mapped_column(BigUint)` for amounts in wei."""


def make_metadata() -> MetaData:
    """A fresh MetaData with stable constraint names (the same on SQLite and PostgreSQL)."""
    return MetaData(naming_convention=NAMING_CONVENTION)


class Base(DeclarativeBase):
    """A declarative base with the shared conventions (tests and tools; services declare
    their own, see the module docstring)."""

    metadata = make_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


def normalize_url(url: str | URL) -> URL:
    """`postgresql://` and `postgres://` -> `postgresql+psycopg://`; anything else unchanged."""
    if isinstance(url, str) and url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, *, echo: bool = False) -> Engine:
    """An engine for `url` with the settings above; creates a SQLite file's directory."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
        if in_memory:
            # One shared connection: every session sees the same in-memory database.
            engine = create_engine(parsed, echo=echo, poolclass=pool.StaticPool,
                                   connect_args={"check_same_thread": False})
        else:
            Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(parsed, echo=echo,
                                   connect_args={"check_same_thread": False,
                                                 "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas(wal=not in_memory))
        return engine
    return create_engine(parsed, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=10)


def _sqlite_pragmas(*, wal: bool):
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            if wal:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()
    return on_connect


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to `engine`; objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def create_all(engine: Engine, metadata: MetaData) -> None:
    """Create the tables of `metadata` that do not exist yet (no migrations in a devnet)."""
    metadata.create_all(engine)


# --- PostgreSQL in tests ------------------------------------------------------------------------

POSTGRES_TEST_URL_ENV = "SEQNET_TEST_POSTGRES_URL"
"""Overrides the server tests use; default: postgres@127.0.0.1:5432/test, trust auth."""
_DEFAULT_POSTGRES_TEST_URLS = ("postgresql+psycopg://postgres@127.0.0.1:5432/test",
                               "postgresql+psycopg://root@127.0.0.1:5432/test")


def postgres_test_url(prefix: str = "seqnet_test") -> str | None:
    """A URL whose connections live in a fresh, uniquely named schema, or None without a server.

    The schema is created here and set as the connections' search_path, so a test's tables
    never meet another test's. Drop it with `drop_postgres_test_schema(url)`.
    """
    import psycopg

    if not prefix.replace("_", "").isalnum() or not prefix.isascii() or not prefix.islower():
        raise ValueError(f"schema prefix must be lower-case letters, digits and _: {prefix!r}")
    candidates = [os.environ[POSTGRES_TEST_URL_ENV]] if os.environ.get(POSTGRES_TEST_URL_ENV) \
        else list(_DEFAULT_POSTGRES_TEST_URLS)
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    for candidate in candidates:
        url = normalize_url(candidate)
        try:
            with psycopg.connect(_libpq_dsn(url), connect_timeout=2, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
        except psycopg.Error:
            continue
        query = dict(url.query)
        query["options"] = f"-csearch_path={schema}"
        return url.set(query=query).render_as_string(hide_password=False)
    return None


def drop_postgres_test_schema(url: str) -> None:
    """Drop the schema `postgres_test_url` created (and everything in it)."""
    import psycopg

    parsed = make_url(url)
    options = str(parsed.query.get("options", ""))
    if not options.startswith("-csearch_path="):
        raise ValueError(f"not a test URL: {url}")
    schema = options[len("-csearch_path="):]
    base = parsed.set(query={k: v for k, v in parsed.query.items() if k != "options"})
    with psycopg.connect(_libpq_dsn(base), connect_timeout=2, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _libpq_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def ping(engine: Engine) -> None:
    """Run `SELECT 1` (readiness checks); raises the driver's error when the database is gone."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
