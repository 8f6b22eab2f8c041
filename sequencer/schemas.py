"""Pydantic models of the sequencer's REST API (bytes as 0x-hex, amounts as decimal strings).

Spec: docs/spec/sequencer.md#rest
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class SubmitTxRequest(BaseModel):
    raw: str = Field(description="The signed transaction (0x-hex of its RLP / typed bytes)",
                     examples=["0x02f8..."])


class ReceiptResponse(BaseModel):
    tx_hash: str
    slot: int
    index: int = Field(description="Position among the block's sequenced transactions")
    prefix_hash: str = Field(description="h_index of the prefix chain (docs/spec/receipts.md)")
    leader: str = Field(description="Node key of the slot's leader")
    signature: str


class SubmitTxResponse(BaseModel):
    tx_hash: str
    receipt: ReceiptResponse


class HeadResponse(BaseModel):
    number: int
    hash: str
    slot: int


class BlockResponse(BaseModel):
    number: int
    hash: str
    parent_hash: str
    slot: int
    timestamp_ms: int
    producer: str
    fee_recipient: str
    tx_root: str
    state_root: str
    withdrawals_root: str
    l1_origin: int
    l1_queue_index: int
    label: str = Field(description="unsafe | attested | safe | finalized")
    canonical: bool
    transactions: int
    queue_items: int
    attesters: list[str]
    raw: str | None = Field(None, description="RLP of the full block (with raw=true)")
    qc: str | None = Field(None, description="RLP of the block's QC once this node knows it "
                                             "(with raw=true): a syncing node needs the QC of "
                                             "the newest block, which no later header carries yet")


class TransactionResponse(BaseModel):
    hash: str
    sender: str
    to: str | None
    value: str
    nonce: int | None = Field(description="None for an undecodable forced transaction")
    raw: str
    status: str = Field(description="pending | included | skipped (a forced transaction that "
                                    "was invalid when its block executed it)")
    block_number: int | None = None
    block_hash: str | None = None
    index: int | None = None
    label: str | None = Field(None, description="Head label of its block")
    receipt: ReceiptResponse | None = None
    forced: bool = Field(False, description="Came through the L1 queue (no leader receipt); "
                                            "`index` counts the block's forced transactions")
    queue_index: int | None = None
    reason: str | None = Field(None, description="Why a forced transaction was skipped")


class WithdrawalResponse(BaseModel):
    """What L1's `claim_withdrawal` takes (block_number, sender, amount, index, proof), with the
    root the proof leads to and how final the block is."""

    tx_hash: str
    block_number: int
    block_hash: str
    sender: str = Field(description="L2 address that burned the value; L1 credits it")
    amount: str = Field(description="Wei, as a decimal string")
    index: int = Field(description="Position among the block's withdrawals, from 0")
    proof: list[str] = Field(description="Trie nodes (0x-hex RLP) from the withdrawals root to "
                                         "the entry keyed rlp(index): protocol/withdrawals.py")
    withdrawals_root: str = Field(description="The block header's withdrawals_root")
    head_label: str = Field(description="unsafe | attested | safe | finalized: L1 pays a claim "
                                        "once the block is finalized")


class AccountResponse(BaseModel):
    address: str
    balance: str
    nonce: int
    pending_nonce: int
    block: int


class FaultsRequest(BaseModel):
    faults: list[str] = Field(description="The complete set of fault flags to run with")


class GenericResponse(BaseModel):
    model_config = {"extra": "allow"}
    data: Any = None
