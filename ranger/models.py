"""SQLAlchemy tables of a ranger (prefix `ranger_`, so a shared database stays readable).

What must survive a restart: the findings (and where each stands on L1), the receipts users
handed over, the signed headers and attestations seen from sequencers, which blocks were
verified and reported. The accepted chain is a cache of L1's (`ranger_blocks`); the L2 state is
rebuilt on start by re-executing it.
"""

from __future__ import annotations

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from nodekit.db import TYPE_ANNOTATION_MAP, BigUint, make_metadata


class RangerBase(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map = TYPE_ANNOTATION_MAP


class MetaRecord(RangerBase):
    """Cursors and identity: key -> value."""

    __tablename__ = "ranger_meta"
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class BlockRecord(RangerBase):
    """A block of L1's accepted chain as this ranger last saw it (rolled-back rows deleted)."""

    __tablename__ = "ranger_blocks"
    number: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(unique=True)
    slot: Mapped[int]
    producer: Mapped[bytes]
    raw: Mapped[bytes]
    l1_block: Mapped[int | None]
    """L1 block its batch was accepted in."""


class VerificationRecord(RangerBase):
    """One re-execution of an accepted block."""

    __tablename__ = "ranger_verifications"
    block_hash: Mapped[bytes] = mapped_column(primary_key=True)
    number: Mapped[int]
    slot: Mapped[int]
    producer: Mapped[bytes]
    sampled: Mapped[bool]
    valid: Mapped[bool]
    reason: Mapped[str] = mapped_column(Text, default="")
    verified_at_ms: Mapped[int]
    report_status: Mapped[str] = mapped_column(String(16), default="pending")
    """pending | reported | skipped (not sampled, invalid, or rolled back) | final (too late)."""
    reported_at_ms: Mapped[int | None]


Index("ix_ranger_verifications_report", VerificationRecord.report_status, VerificationRecord.number)


class ObservationRecord(RangerBase):
    """A signed header (with its transaction hashes when the body was seen) or an attestation
    seen from a sequencer or forwarded by one."""

    __tablename__ = "ranger_observations"
    __table_args__ = (UniqueConstraint("kind", "signer", "slot", "obj_hash"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    """header | attestation"""
    signer: Mapped[bytes]
    slot: Mapped[int]
    obj_hash: Mapped[bytes]
    """Hash of the block the header is, or the attestation names."""
    raw: Mapped[bytes]
    """encode_signed_header or encode_attestation."""
    block_raw: Mapped[bytes | None]
    """The full block when it was seen (receipts are checked against its transactions)."""
    source: Mapped[str] = mapped_column(String(256), default="")
    seen_at_ms: Mapped[int]
    censorship_checked: Mapped[bool] = mapped_column(default=False)


Index("ix_ranger_observations_signer_slot", ObservationRecord.signer, ObservationRecord.slot)


class ReceiptRecord(RangerBase):
    """A soft-confirmation receipt a user handed over, and what checking it found."""

    __tablename__ = "ranger_receipts"
    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_hash: Mapped[bytes] = mapped_column(unique=True)
    tx_hash: Mapped[bytes]
    slot: Mapped[int]
    index: Mapped[int]
    leader: Mapped[bytes]
    raw: Mapped[bytes]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """pending | kept | violated | no_block"""
    block_hash: Mapped[bytes | None]
    finding_id: Mapped[int | None]
    received_at_ms: Mapped[int]
    checked_at_ms: Mapped[int | None]


Index("ix_ranger_receipts_status", ReceiptRecord.status, ReceiptRecord.slot)


class FindingRecord(RangerBase):
    """A detected misconduct with its evidence, and its fate on L1."""

    __tablename__ = "ranger_findings"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    evidence_hash: Mapped[bytes] = mapped_column(unique=True)
    evidence: Mapped[bytes]
    offender: Mapped[bytes]
    slot: Mapped[int]
    block_number: Mapped[int | None]
    block_hash: Mapped[bytes | None]
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32))
    """l1 (re-execution) | receipt | observation | admin"""
    detected_at_ms: Mapped[int]
    block_timestamp_ms: Mapped[int | None]
    """When the faulty block (or header) was produced, for time-to-slash figures."""
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """pending | accepted | rejected | duplicate (someone else proved it) | failed"""
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    l1_proof_id: Mapped[int | None]
    l1_reason: Mapped[str] = mapped_column(Text, default="")
    l1_block: Mapped[int | None]
    """L1 block in which L1 judged the proof."""
    slash_id: Mapped[int | None]
    slashed_wei: Mapped[int] = mapped_column(BigUint, default=0)
    reward_wei: Mapped[int] = mapped_column(BigUint, default=0)
    """reporter_paid: this ranger's share of the slash."""
    bond_lost_wei: Mapped[int] = mapped_column(BigUint, default=0)
    submitted_at_ms: Mapped[int | None]
    resolved_at_ms: Mapped[int | None]


Index("ix_ranger_findings_status", FindingRecord.status)
