"""Every error expected in normal operation: one hierarchy, each message names the rule.

Services map `ProtocolError` to HTTP 400 `{"error": <class name>, "detail": <message>}`
and to JSON-RPC errors; the class name is the machine-readable reason.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base of every rule violation. The message says which rule failed, with the numbers."""

    @property
    def name(self) -> str:
        return type(self).__name__


class InvalidEncoding(ProtocolError):
    """Bytes that do not decode to the expected wire object."""


class InvalidSignature(ProtocolError):
    """A signature that does not verify, or a malformed one."""


class InvalidParams(ProtocolError):
    """Chain parameters that break an invariant of DESIGN.md."""


# --- transactions (DESIGN.md section 3) ---------------------------------------------------


class InvalidTransaction(ProtocolError):
    """A transaction that may not be included in a block."""


class UnsupportedTransactionType(InvalidTransaction):
    """Only legacy (EIP-155) and EIP-1559 (type 2) transactions are accepted."""


class WrongChainId(InvalidTransaction):
    """The transaction is signed for another chain."""


class HighS(InvalidTransaction):
    """The signature's s is above secp256k1 n/2 (malleable, EIP-2)."""


class NonceMismatch(InvalidTransaction):
    """The transaction nonce is not the sender's next nonce."""

    def __init__(self, message: str, *, expected: int = 0, got: int = 0) -> None:
        super().__init__(message)
        self.expected = expected
        self.got = got


class NonceTooLow(NonceMismatch):
    """The nonce was already used by the sender."""


class NonceTooHigh(NonceMismatch):
    """The nonce leaves a gap after the sender's next nonce."""


class IntrinsicGasTooLow(InvalidTransaction):
    """`gas` is below the 21,000 a transfer costs."""


class DataNotAllowed(InvalidTransaction):
    """Only plain value transfers exist on this L2: `data` must be empty."""


class ContractCreationNotAllowed(InvalidTransaction):
    """A transaction without a recipient would create a contract."""


class InsufficientBalance(InvalidTransaction):
    """The sender cannot pay `value + gas * max_fee`."""


class FeeTooLow(InvalidTransaction):
    """The fee cap is below the chain's base fee."""


class TipAboveFeeCap(InvalidTransaction):
    """EIP-1559: max_priority_fee_per_gas > max_fee_per_gas."""


class OversizedTransaction(InvalidTransaction):
    """Encoded transaction larger than 128 KiB."""


class AccessListNotAllowed(InvalidTransaction):
    """A type 2 transaction with a non-empty access list (there are no contracts to warm)."""


# --- blocks (DESIGN.md section 4) ---------------------------------------------------------


class InvalidBlock(ProtocolError):
    """A block no honest node may accept."""


class WrongLeader(InvalidBlock):
    """The producer does not lead the block's slot."""


class ProducerJailed(InvalidBlock):
    """The producer is jailed."""


class WrongParent(InvalidBlock):
    """Number or parent hash does not extend the parent."""


class SlotNotAfterParent(InvalidBlock):
    """The block's slot is not greater than its parent's."""


class TimestampOutsideSlot(InvalidBlock):
    """The timestamp does not lie in the block's slot."""


class MissingQuorum(InvalidBlock):
    """The parent QC does not carry more than 2/3 of the epoch's voting power."""


class BadQuorumCertificate(InvalidBlock):
    """The parent QC is for another block, or holds a bad or duplicate attestation."""


class QueueItemSkipped(InvalidBlock):
    """A due L1 queue item was not consumed, or queue items were consumed out of order."""


class BadQueueItems(InvalidBlock):
    """The block's queue items do not match the L1 queue."""


class BadTxRoot(InvalidBlock):
    """The header's tx_root is not the prefix chain of the block's transactions."""


class BadStateRoot(InvalidBlock):
    """Re-execution gives another state root."""


class BadWithdrawalsRoot(InvalidBlock):
    """Re-execution gives another withdrawals root."""


class BlockContainsInvalidTransaction(InvalidBlock):
    """A sequenced transaction of the block is invalid on the block's pre-state."""


class BadL1Origin(InvalidBlock):
    """l1_origin goes backwards or points at an L1 block that does not exist yet."""


# --- proofs (DESIGN.md section 7) ---------------------------------------------------------


class InvalidProof(ProtocolError):
    """A Merkle proof, witness or fraud proof that does not establish what it claims."""


class MissingWitnessNode(InvalidProof):
    """Stateless execution needed a trie node the witness does not hold."""


class InvalidReceipt(ProtocolError):
    """A soft-confirmation receipt that is malformed or badly signed."""


# --- schedule and L1 calls (DESIGN.md sections 2 and 4) ------------------------------------


class EmptySequencerSet(ProtocolError):
    """The epoch's sequencer set has no member, so no slot of the epoch has a leader."""


class InvalidSequencerSet(ProtocolError):
    """A sequencer set that is unsorted, has duplicate node keys or members without power."""


class SlotOutsideEpoch(ProtocolError):
    """A leader was asked of a sequencer set for a slot of another epoch."""


class BeforeGenesis(ProtocolError):
    """A time before the chain's genesis time has no slot."""
