"""The database base on SQLite and on PostgreSQL (skipped, with the reason, without a server)."""

from __future__ import annotations

import pytest
from sqlalchemy import ForeignKey, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from nodekit.db import (TYPE_ANNOTATION_MAP, BigUint, create_all, drop_postgres_test_schema,
                        make_engine, make_metadata, make_session_factory, normalize_url, ping,
                        postgres_test_url)


class DemoBase(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class AccountRecord(DemoBase):
    __tablename__ = "accounts"
    address: Mapped[bytes] = mapped_column(primary_key=True)
    nonce: Mapped[int]
    balance_wei: Mapped[int] = mapped_column(BigUint)


class TransferRecord(DemoBase):
    __tablename__ = "transfers"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    sender: Mapped[bytes] = mapped_column(ForeignKey("accounts.address"))
    amount_wei: Mapped[int] = mapped_column(BigUint)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/nested/dir/node.sqlite3"
        return
    url = postgres_test_url()
    if url is None:
        pytest.skip("no PostgreSQL server answers at 127.0.0.1:5432 (database test, trust auth); "
                    "set SEQNET_TEST_POSTGRES_URL to use another")
    yield url
    drop_postgres_test_schema(url)


def test_tables_rows_and_big_amounts(db_url):
    engine = make_engine(db_url)
    try:
        create_all(engine, DemoBase.metadata)
        create_all(engine, DemoBase.metadata)   # idempotent
        sessions = make_session_factory(engine)
        big = 2**256 - 1
        with sessions() as session, session.begin():
            session.add(AccountRecord(address=b"\x01" * 20, nonce=2**40, balance_wei=big))
            session.add(TransferRecord(sender=b"\x01" * 20, amount_wei=20_000 * 10**18))
        with sessions() as session:
            account = session.get(AccountRecord, b"\x01" * 20)
            assert account.nonce == 2**40 and account.balance_wei == big
            amounts = session.scalars(select(TransferRecord.amount_wei)).all()
            assert amounts == [20_000 * 10**18]
            assert session.scalar(select(func.count()).select_from(TransferRecord)) == 1
        # Foreign keys are enforced on both backends.
        with pytest.raises(IntegrityError):
            with sessions() as session, session.begin():
                session.add(TransferRecord(sender=b"\x02" * 20, amount_wei=1))
        ping(engine)
    finally:
        engine.dispose()


def test_biguint_refuses_negative(db_url):
    engine = make_engine(db_url)
    try:
        create_all(engine, DemoBase.metadata)
        with pytest.raises(Exception, match="non-negative"):
            with make_session_factory(engine)() as session, session.begin():
                session.add(AccountRecord(address=b"\x03" * 20, nonce=0, balance_wei=-1))
    finally:
        engine.dispose()


def test_sqlite_pragmas(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/wal.sqlite3")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA synchronous")).scalar() == 1   # NORMAL
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()


def test_sqlite_in_memory_is_shared_between_sessions():
    engine = make_engine("sqlite://")
    create_all(engine, DemoBase.metadata)
    sessions = make_session_factory(engine)
    with sessions() as session, session.begin():
        session.add(AccountRecord(address=b"\x04" * 20, nonce=1, balance_wei=5))
    with sessions() as session:
        assert session.get(AccountRecord, b"\x04" * 20).balance_wei == 5
    engine.dispose()


def test_postgres_urls_get_psycopg_driver():
    assert normalize_url("postgresql://u@h:5432/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite"


def test_postgres_test_urls_are_isolated():
    first, second = postgres_test_url(), postgres_test_url()
    if first is None:
        pytest.skip("no PostgreSQL server answers at 127.0.0.1:5432")
    try:
        assert first != second
        engine = make_engine(first)
        create_all(engine, DemoBase.metadata)
        other = make_engine(second)
        with other.connect() as connection:
            assert connection.execute(text(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                "current_schema()")).scalar() == 0
        engine.dispose()
        other.dispose()
    finally:
        drop_postgres_test_schema(first)
        drop_postgres_test_schema(second)
