"""Pydantic request and response models of the L1 mock's REST API.

Bytes are 0x-hex strings, token amounts decimal strings of wei (DESIGN.md section 9).

Spec: docs/spec/l1.md#routes
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

Hex = str
Amount = str


class CallRequest(BaseModel):
    """A signed call: `protocol.l1calls.encode_l1_call(sign_l1_call(...))`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "method": "transfer", "sender": "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266", "nonce": 0,
        "args": {"to": "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
                 "amount": "1000000000000000000"},
        "signature": "0x" + "00" * 65}})

    method: StrictStr = Field(description="Contract method, e.g. transfer, submit_batch")
    sender: StrictStr = Field(description="20-byte address of the signer (0x-hex)")
    nonce: StrictInt = Field(description="The sender's next L1 nonce (GET /accounts/{address})")
    args: dict[str, Any] = Field(description="Method arguments; bytes 0x-hex, amounts decimal")
    signature: StrictStr = Field(description="65-byte EIP-191 signature (0x-hex)")


class CallResponse(BaseModel):
    method: str
    sender: Hex
    nonce: int
    seq: int = Field(description="Position of the call in L1's call log")
    l1_block: int = Field(description="L1 block the call was applied in")
    result: dict[str, Any] = Field(description="Method-specific outcome")


class ErrorResponse(BaseModel):
    error: str = Field(description="Machine-readable reason: the exception class name")
    detail: Any


class HeadInfo(BaseModel):
    number: int
    hash: Hex
    slot: int
    l1_block: int | None = None


class StatusResponse(BaseModel):
    l1_chain_id: int
    chain_id: int
    genesis_hash: Hex
    genesis_time_ms: int
    l1_block_ms: int
    l1_head: int
    l1_head_timestamp_ms: int
    current_slot: int | None
    current_epoch: int | None
    next_snapshot_epoch: int | None
    accepted: HeadInfo
    finalized: HeadInfo
    queue_length: int
    queue_head: int = Field(description="Next queue index the accepted chain must consume")
    sequencers: int
    active_sequencers: int
    rangers: int
    batches: int
    fraud_proofs: int
    slashes: int
    last_event_id: int
    minted: Amount
    burned: Amount


class UnbondingResponse(BaseModel):
    owner: Hex
    amount: Amount
    release_l1_block: int
    sequencer: Hex | None = None
    source: str


class StakeResponse(BaseModel):
    sequencer: Hex
    amount: Amount


class AccountResponse(BaseModel):
    address: Hex
    balance: Amount
    nonce: int
    pending_rewards: Amount
    stakes: list[StakeResponse]
    unbonding: list[UnbondingResponse]
    sequencer: Hex | None = Field(None, description="Node key of the sequencer it operates")
    ranger: Hex | None = Field(None, description="Node key of the ranger it operates")


class DelegationResponse(BaseModel):
    owner: Hex
    amount: Amount
    self_stake: bool


class SequencerResponse(BaseModel):
    node_key: Hex
    operator: Hex
    endpoint: str
    commission_bps: int
    registered_l1_block: int
    status: str = Field(description="active | jailed | inactive (below the minimum stake)")
    self_stake: Amount
    delegated: Amount
    total_stake: Amount
    unbonding_total: Amount
    delegations: list[DelegationResponse]
    unbonding: list[UnbondingResponse]
    produced: int
    missed: int
    recent_missed: int = Field(description="Missed among the last downtime_window_slots own slots")
    jailed_l1_block: int | None
    jailed_from_slot: int | None
    unjail_from_l1_block: int | None
    jail_reason: str
    rewards: Amount
    commission_earned: Amount
    slashed: Amount
    slashes: list[int]


class RangerResponse(BaseModel):
    node_key: Hex
    operator: Hex
    endpoint: str
    bond: Amount
    registered_l1_block: int
    verified: int
    rewards: Amount


class MemberResponse(BaseModel):
    node_key: Hex
    operator: Hex
    stake: Amount
    power: int
    slots: int = Field(description="Slots it leads in the epoch")


class EpochResponse(BaseModel):
    epoch: int
    start_slot: int
    snapshot_l1_block: int
    total_power: int
    members: list[MemberResponse]
    schedule: list[Hex] | None = Field(None, description="Leader node key of every slot")


class SlotResponse(BaseModel):
    slot: int
    epoch: int
    start_ms: int
    leader: Hex | None


class BatchResponse(BaseModel):
    id: int
    l1_block: int
    submitter: Hex
    first: int
    last: int
    hashes: list[Hex]
    skipped: int
    final_l1_block: int


class QCResponse(BaseModel):
    block_hash: Hex
    number: int
    slot: int
    signers: list[Hex]


class BlockResponse(BaseModel):
    number: int
    hash: Hex
    parent_hash: Hex
    slot: int
    timestamp_ms: int
    producer: Hex
    tx_root: Hex
    state_root: Hex
    withdrawals_root: Hex
    l1_origin: int
    l1_queue_index: int
    parent_qc: QCResponse | None
    status: str = Field(description="genesis | accepted | finalized | rolled_back")
    l1_block: int | None = Field(None, description="L1 block its batch was accepted in")
    batch_id: int | None
    finalized_l1_block: int | None
    verified_by: list[Hex]
    transactions: int | None = None
    raw: Hex | None = Field(None, description="RLP of the full block (encode_block)")


class QueueItemResponse(BaseModel):
    index: int
    kind: str = Field(description="deposit | forced_tx")
    l1_block: int
    due_l1_origin: int
    sender: Hex
    to: Hex | None
    amount: Amount
    raw_tx: Hex | None
    consumed: bool


class SlashResponse(BaseModel):
    id: int
    node_key: Hex
    reason: str
    bps: int
    amount: Amount
    reporter: Hex | None
    reporter_paid: Amount
    burned: Amount
    l1_block: int
    fraud_proof_id: int | None
    cuts: dict[str, Amount]


class FraudProofResponse(BaseModel):
    id: int
    kind: str
    reporter: Hex
    evidence_hash: Hex
    l1_block: int
    status: str = Field(description="accepted | rejected")
    reason: str
    bond: Amount
    offender: Hex | None
    slot: int | None
    block_number: int | None
    slash_id: int | None


class EventResponse(BaseModel):
    id: int
    l1_block: int
    kind: str
    data: dict[str, Any]


class EventsResponse(BaseModel):
    events: list[EventResponse]
    next: int = Field(description="Cursor for the next call: GET /events?after=<next>")
    last_event_id: int
