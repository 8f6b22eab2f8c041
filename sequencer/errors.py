"""The sequencer's own refusals (ProtocolError subclasses, so the one handler maps them)."""

from __future__ import annotations

from protocol.exceptions import ProtocolError


class NotLeader(ProtocolError):
    """This node does not lead the current slot (or its slot is sealing); ask the leader."""


class NoLeader(ProtocolError):
    """No leader is known for the current slot (before genesis, or epoch not snapshotted)."""

    http_status = 503  # temporary: ask again shortly


class NodeUnavailable(ProtocolError):
    """The node cannot take transactions right now (follower, offline fault, leader unreachable)."""

    http_status = 503  # temporary: retry, or send to another sequencer


class UnknownBlock(ProtocolError):
    """No such block."""


class UnknownTransaction(ProtocolError):
    """No such transaction."""


class AlreadyKnown(ProtocolError):
    """The transaction is already in the pool or the chain."""


class UnknownWithdrawal(ProtocolError):
    """No withdrawal for this transaction on the node's canonical chain (unknown, pending,
    or not a transfer to the bridge address)."""

    http_status = 404
