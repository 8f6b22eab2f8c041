"""One function per query or write of the ranger's database (ranger/models.py).

Each takes a session factory, runs one short transaction and returns plain records; the jobs
call them directly (SQLite WAL writes take well under a millisecond here).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .models import (
    BlockRecord,
    FindingRecord,
    MetaRecord,
    ObservationRecord,
    ReceiptRecord,
    VerificationRecord,
)

Sessions = sessionmaker[Session]


# --- meta ------------------------------------------------------------------------------------


def get_meta(sessions: Sessions, key: str) -> str | None:
    with sessions() as session:
        record = session.get(MetaRecord, key)
        return None if record is None else record.value


def set_meta(sessions: Sessions, key: str, value: str) -> None:
    with sessions.begin() as session:
        record = session.get(MetaRecord, key)
        if record is None:
            session.add(MetaRecord(key=key, value=value))
        else:
            record.value = value


# --- the accepted chain --------------------------------------------------------------------------


def get_blocks(sessions: Sessions, start: int, limit: int) -> list[BlockRecord]:
    with sessions() as session:
        return list(session.scalars(select(BlockRecord).where(BlockRecord.number >= start)
                                    .order_by(BlockRecord.number).limit(limit)))


def get_block(sessions: Sessions, number: int) -> BlockRecord | None:
    with sessions() as session:
        return session.get(BlockRecord, number)


def get_head_block(sessions: Sessions) -> BlockRecord | None:
    with sessions() as session:
        return session.scalars(select(BlockRecord).order_by(BlockRecord.number.desc())
                               .limit(1)).first()


def get_blocks_for_slot(sessions: Sessions, slot: int, producer: bytes) -> list[BlockRecord]:
    with sessions() as session:
        return list(session.scalars(select(BlockRecord).where(BlockRecord.slot == slot,
                                                              BlockRecord.producer == producer)))


def put_blocks(sessions: Sessions, blocks: Iterable[BlockRecord]) -> None:
    with sessions.begin() as session:
        for block in blocks:
            session.merge(block)


def delete_blocks_from(sessions: Sessions, number: int) -> list[bytes]:
    """Drop blocks `number` and later (L1 rolled them back); returns their hashes."""
    with sessions.begin() as session:
        hashes = list(session.scalars(select(BlockRecord.hash).where(BlockRecord.number >= number)))
        session.execute(delete(BlockRecord).where(BlockRecord.number >= number))
        if hashes:
            session.execute(update(VerificationRecord)
                            .where(VerificationRecord.block_hash.in_(hashes),
                                   VerificationRecord.report_status == "pending")
                            .values(report_status="skipped"))
        return hashes


# --- verifications ------------------------------------------------------------------------------


def add_verification(sessions: Sessions, record: VerificationRecord) -> bool:
    """Record a verification once per block hash; False when it was already recorded."""
    try:
        with sessions.begin() as session:
            if session.get(VerificationRecord, record.block_hash) is not None:
                return False
            session.add(record)
        return True
    except IntegrityError:
        return False


def get_pending_reports(sessions: Sessions, limit: int) -> list[VerificationRecord]:
    with sessions() as session:
        return list(session.scalars(select(VerificationRecord)
                                    .where(VerificationRecord.report_status == "pending")
                                    .order_by(VerificationRecord.number).limit(limit)))


def set_report_status(sessions: Sessions, hashes: Sequence[bytes], status: str,
                      now_ms: int | None = None) -> None:
    if not hashes:
        return
    with sessions.begin() as session:
        session.execute(update(VerificationRecord)
                        .where(VerificationRecord.block_hash.in_(list(hashes)))
                        .values(report_status=status, reported_at_ms=now_ms))


def list_verifications(sessions: Sessions, limit: int) -> list[VerificationRecord]:
    with sessions() as session:
        return list(session.scalars(select(VerificationRecord)
                                    .order_by(VerificationRecord.number.desc()).limit(limit)))


# --- observations -------------------------------------------------------------------------------


def add_observation(sessions: Sessions, record: ObservationRecord) -> bool:
    """Store a signed header or attestation once; a full block completes a bare header."""
    with sessions.begin() as session:
        existing = session.scalars(select(ObservationRecord).where(
            ObservationRecord.kind == record.kind, ObservationRecord.signer == record.signer,
            ObservationRecord.slot == record.slot,
            ObservationRecord.obj_hash == record.obj_hash)).first()
        if existing is not None:
            if record.block_raw and not existing.block_raw:
                existing.block_raw = record.block_raw
            return False
        session.add(record)
        return True


def get_observations(sessions: Sessions, kind: str, signer: bytes, slot: int) -> list[ObservationRecord]:
    with sessions() as session:
        return list(session.scalars(select(ObservationRecord).where(
            ObservationRecord.kind == kind, ObservationRecord.signer == signer,
            ObservationRecord.slot == slot).order_by(ObservationRecord.id)))


def get_unchecked_headers(sessions: Sessions, limit: int) -> list[ObservationRecord]:
    with sessions() as session:
        return list(session.scalars(select(ObservationRecord).where(
            ObservationRecord.kind == "header",
            ObservationRecord.censorship_checked.is_(False)).order_by(ObservationRecord.id)
            .limit(limit)))


def mark_censorship_checked(sessions: Sessions, ids: Sequence[int]) -> None:
    if not ids:
        return
    with sessions.begin() as session:
        session.execute(update(ObservationRecord).where(ObservationRecord.id.in_(list(ids)))
                        .values(censorship_checked=True))


def count_observations(sessions: Sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(ObservationRecord)) or 0


# --- receipts -----------------------------------------------------------------------------------


def add_receipt(sessions: Sessions, record: ReceiptRecord) -> tuple[ReceiptRecord, bool]:
    with sessions.begin() as session:
        existing = session.scalars(select(ReceiptRecord).where(
            ReceiptRecord.receipt_hash == record.receipt_hash)).first()
        if existing is not None:
            return existing, False
        session.add(record)
        session.flush()
        return record, True


def get_pending_receipts(sessions: Sessions, limit: int = 1000) -> list[ReceiptRecord]:
    with sessions() as session:
        return list(session.scalars(select(ReceiptRecord).where(ReceiptRecord.status == "pending")
                                    .order_by(ReceiptRecord.slot).limit(limit)))


def set_receipt_status(sessions: Sessions, receipt_id: int, status: str, now_ms: int,
                       block_hash: bytes | None = None, finding_id: int | None = None) -> None:
    with sessions.begin() as session:
        record = session.get(ReceiptRecord, receipt_id)
        record.status = status
        record.checked_at_ms = now_ms
        record.block_hash = block_hash
        record.finding_id = finding_id


def get_receipt(sessions: Sessions, receipt_id: int) -> ReceiptRecord | None:
    with sessions() as session:
        return session.get(ReceiptRecord, receipt_id)


def list_receipts(sessions: Sessions, limit: int) -> list[ReceiptRecord]:
    with sessions() as session:
        return list(session.scalars(select(ReceiptRecord).order_by(ReceiptRecord.id.desc())
                                    .limit(limit)))


# --- findings -----------------------------------------------------------------------------------


def add_finding(sessions: Sessions, record: FindingRecord) -> tuple[FindingRecord, bool]:
    """Store a finding once per evidence hash; returns (the stored finding, created)."""
    with sessions.begin() as session:
        existing = session.scalars(select(FindingRecord).where(
            FindingRecord.evidence_hash == record.evidence_hash)).first()
        if existing is not None:
            return existing, False
        session.add(record)
        session.flush()
        return record, True


def get_finding(sessions: Sessions, finding_id: int) -> FindingRecord | None:
    with sessions() as session:
        return session.get(FindingRecord, finding_id)


def get_findings_by_status(sessions: Sessions, status: str) -> list[FindingRecord]:
    with sessions() as session:
        return list(session.scalars(select(FindingRecord).where(FindingRecord.status == status)
                                    .order_by(FindingRecord.id)))


def has_finding_for_offence(sessions: Sessions, kind: str, offender: bytes, slot: int) -> bool:
    """L1 judges one offence (kind, offender, slot) once: a second proof of it is refused."""
    with sessions() as session:
        return session.scalars(select(FindingRecord.id).where(
            FindingRecord.kind == kind, FindingRecord.offender == offender,
            FindingRecord.slot == slot)).first() is not None


def update_finding(sessions: Sessions, finding_id: int, **values: object) -> FindingRecord:
    with sessions.begin() as session:
        record = session.get(FindingRecord, finding_id)
        for name, value in values.items():
            setattr(record, name, value)
        return record


def list_findings(sessions: Sessions, limit: int = 100, kind: str | None = None) -> list[FindingRecord]:
    with sessions() as session:
        query = select(FindingRecord).order_by(FindingRecord.id.desc()).limit(limit)
        if kind:
            query = query.where(FindingRecord.kind == kind)
        return list(session.scalars(query))


# --- stats --------------------------------------------------------------------------------------


def compute_stats(sessions: Sessions) -> dict[str, object]:
    with sessions() as session:
        def count(*conditions) -> int:
            return session.scalar(select(func.count()).select_from(VerificationRecord)
                                  .where(*conditions)) or 0

        seen = count()
        sampled = count(VerificationRecord.sampled.is_(True))
        invalid = count(VerificationRecord.valid.is_(False))
        reported = count(VerificationRecord.report_status == "reported")
        findings = list(session.execute(select(FindingRecord.kind, FindingRecord.status,
                                               FindingRecord.reward_wei,
                                               FindingRecord.bond_lost_wei)))
        receipts = dict(session.execute(select(ReceiptRecord.status, func.count())
                                        .group_by(ReceiptRecord.status)).all())
    by_kind: dict[str, int] = {}
    by_status: dict[str, int] = {}
    reward = bond_lost = 0
    for kind, status, reward_wei, lost in findings:
        by_kind[kind] = by_kind.get(kind, 0) + 1
        by_status[status] = by_status.get(status, 0) + 1
        reward += int(reward_wei or 0)
        bond_lost += int(lost or 0)
    return {"blocks_seen": seen, "blocks_verified": sampled, "invalid_blocks": invalid,
            "blocks_reported": reported, "findings_by_kind": by_kind,
            "findings_by_status": by_status, "fraud_rewards_wei": reward,
            "bonds_lost_wei": bond_lost, "receipts": receipts}
