"""Pydantic request and response models of the ranger's REST API: bytes as 0x-hex, token
amounts as decimal strings (DESIGN.md section 9).

Spec: docs/spec/ranger.md#routes
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from nodekit.db import MAX_DB_INT
from nodekit.jsonutil import Amount, Hash32, HexBytes, NodeKeyHex


class HealthResponse(BaseModel):
    status: str = "ok"


class StatusResponse(BaseModel):
    name: str
    node_key: NodeKeyHex
    operator: HexBytes
    registered: bool
    sample_rate: float
    l1_url: str
    l1_accepted_head: int | None = Field(description="L1's accepted L2 head, as last seen")
    l1_head: int | None = Field(description="L1's own block number, as last seen")
    stored_head: int = Field(description="Highest accepted block the ranger holds")
    executed_head: int = Field(description="Highest accepted block re-executed")
    halted_at: int | None = Field(description="Block proven invalid; waiting for L1's rollback")
    pending_findings: int
    last_error: str


class ReceiptIn(BaseModel):
    """A soft-confirmation receipt as sequencers return it (`protocol.receipts.receipt_to_json`)."""

    tx_hash: Hash32
    slot: int = Field(ge=0, le=MAX_DB_INT)
    index: int = Field(ge=0, le=MAX_DB_INT)
    prefix_hash: Hash32
    leader: NodeKeyHex
    signature: HexBytes


class ReceiptsRequest(BaseModel):
    receipts: list[ReceiptIn] = Field(min_length=1, max_length=1000)


class ReceiptResponse(BaseModel):
    id: int
    tx_hash: Hash32
    slot: int
    index: int
    leader: NodeKeyHex
    status: str = Field(description="pending | kept | violated | no_block")
    block_hash: HexBytes | None = None
    finding_id: int | None = None
    received_at_ms: int
    created: bool = True


class ObservationsRequest(BaseModel):
    """What a sequencer saw: full blocks (encode_block), signed headers
    (encode_signed_header) and attestations (encode_attestation), each 0x-hex."""

    blocks: list[HexBytes] = Field(default_factory=list, max_length=256)
    headers: list[HexBytes] = Field(default_factory=list, max_length=256)
    attestations: list[HexBytes] = Field(default_factory=list, max_length=1024)
    source: str = Field("", max_length=256, description="Who forwards them (name or URL)")


class ObservationsResponse(BaseModel):
    accepted: int = Field(description="Objects stored (new, with valid signatures)")
    ignored: int = Field(description="Undecodable, badly signed or already known")
    findings: list[int] = Field(description="Ids of findings these objects revealed")


class EquivocationRequest(BaseModel):
    """Two signed objects by one key for one slot: each a signed header
    (encode_signed_header) or an attestation (encode_attestation)."""

    first: HexBytes
    second: HexBytes
    source: str = Field("", max_length=256)


class AdminFraudProofRequest(BaseModel):
    """Devnet debugging: post evidence to L1 as is, without the local check (a false
    accusation loses the bond)."""

    kind: str
    evidence: HexBytes


class FindingResponse(BaseModel):
    id: int
    kind: str
    status: str = Field(description="pending | accepted | rejected | duplicate | failed")
    offender: NodeKeyHex
    slot: int
    block_number: int | None
    block_hash: HexBytes | None
    reason: str
    source: str
    evidence_hash: Hash32
    evidence_size: int
    evidence: HexBytes | None = Field(None, description="RLP evidence (GET /reports/{id})")
    detected_at_ms: int
    block_timestamp_ms: int | None
    submitted_at_ms: int | None
    resolved_at_ms: int | None
    attempts: int
    last_error: str
    l1_proof_id: int | None
    l1_verdict: str | None = Field(description="accepted | rejected | None while pending")
    l1_reason: str
    l1_block: int | None
    slash_id: int | None
    slashed: Amount
    reward: Amount = Field(description="This ranger's share of the slash")
    bond_lost: Amount


class StatsResponse(BaseModel):
    blocks_seen: int = Field(description="Accepted blocks re-executed")
    blocks_verified: int = Field(description="Of those, sampled: verified and vouched for")
    sampled_rate: float = Field(description="blocks_verified / blocks_seen")
    sample_rate: float = Field(description="Configured sampling rate")
    invalid_blocks: int
    blocks_reported: int
    faults_found: int
    findings_by_kind: dict[str, int]
    findings_by_status: dict[str, int]
    fraud_rewards: Amount = Field(description="Reporter shares of slashes paid to this ranger")
    bonds_lost: Amount
    verification_rewards: Amount | None = Field(description="ranger_reward earned on L1 (from /rangers)")
    l1_verified: int | None = Field(description="Verifications L1 recorded for this ranger")
    receipts: dict[str, int]
    observations: int


class VerificationResponse(BaseModel):
    block_hash: Hash32
    number: int
    slot: int
    producer: NodeKeyHex
    sampled: bool
    valid: bool
    reason: str
    verified_at_ms: int
    report_status: str


class AdminFraudProofResponse(BaseModel):
    finding_id: int
    result: dict[str, Any]
