"""Errors of the L1 contract: every rejected call raises one, and changes nothing.

All subclass `protocol.exceptions.ProtocolError`, so the app maps them to HTTP 400
`{"error": <class name>, "detail": <message>}`; the class name is the machine-readable reason.

Spec: docs/spec/l1.md#errors
"""

from __future__ import annotations

from protocol.exceptions import ProtocolError


class InvalidCall(ProtocolError):
    """A call whose method is unknown or whose arguments are missing, extra or malformed."""


class UnknownMethod(InvalidCall):
    """The call names no method of the contract."""


class WrongNonce(ProtocolError):
    """The call's nonce is not the sender's next L1 nonce."""


class NonceReplay(WrongNonce):
    """The nonce was already used: the call is a replay (or a stale retry)."""


class NonceGap(WrongNonce):
    """The nonce is above the sender's next nonce."""


class InsufficientFunds(ProtocolError):
    """The sender's L1 token balance does not cover the amount."""


class NotRegistered(ProtocolError):
    """The sender (or the named node) is not a registered sequencer or ranger."""


class UnknownSequencer(NotRegistered):
    """No sequencer is registered under that node key or operator address."""


class AlreadyRegistered(ProtocolError):
    """The node key or the operator already has a registration."""


class StakeTooLow(ProtocolError):
    """Self-stake below `min_sequencer_stake_wei`, or a ranger bond below `min_ranger_bond_wei`."""


class InsufficientStake(ProtocolError):
    """Undelegating more than the sender has staked with the sequencer."""


class StillUnbonding(ProtocolError):
    """Unbonding entries exist but none has reached its release block yet."""


class NothingToWithdraw(ProtocolError):
    """The sender has no unbonding entry."""


class NothingToClaim(ProtocolError):
    """The sender has no pending reward."""


class Jailed(ProtocolError):
    """The sequencer is jailed."""


class NotJailed(ProtocolError):
    """unjail by a sequencer that is not jailed."""


class UnjailTooEarly(ProtocolError):
    """unjail before `unjail_delay_l1_blocks` have passed since the jailing."""


class EpochNotSnapshotted(ProtocolError):
    """A block's slot lies in an epoch whose sequencer set L1 has not snapshotted."""


class BlockConflict(ProtocolError):
    """A submitted block has the number of an accepted block but another hash."""


class BlockRolledBack(ProtocolError):
    """A submitted block was accepted once and discarded by a fraud proof."""


class UnknownBlock(ProtocolError):
    """The block hash or number is not on L1's accepted chain."""


class BlockNotChallengeable(ProtocolError):
    """The block is already final (its challenge window has passed)."""


class BlockNotFinal(ProtocolError):
    """A withdrawal is claimed from a block that is not final yet."""


class DuplicateEvidence(ProtocolError):
    """This evidence (or a proof of the same offence) was already submitted."""


class AlreadyClaimed(ProtocolError):
    """The withdrawal was already claimed."""


class NotFound(ProtocolError):
    """A read for something that does not exist (HTTP 404)."""

    http_status = 404


class StoreUnavailable(ProtocolError):
    """The database refused the write; the call was not applied (HTTP 503)."""

    http_status = 503
