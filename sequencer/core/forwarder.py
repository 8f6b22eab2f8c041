"""Batched forwarding of transactions to the slot leader.

A non-leader used to send one signed HTTP request per transaction to the leader; under load
that request (httpx + httpcore per call) cost more CPU than everything else the node did
(docs/performance.md). Now every transaction waiting for the same leader joins one queue per
endpoint, and at most `MAX_IN_FLIGHT` requests per endpoint carry everything queued so far
(`POST /peer/forward_batch`). At low load a batch holds one transaction and costs what the
single request did; under load batches grow by themselves while earlier ones are in flight,
so the request rate stays bounded and the per-transaction cost falls.

The leader answers one result per transaction, in order: a receipt, or the error the single
route would have answered. Each waiting `intake.submit` gets exactly its own outcome, so the
retry rules (NotLeader -> ask the new leader, unreachable -> wait for the next slot) are
unchanged.

Spec: docs/spec/sequencer.md#intake
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nodekit.errors import RemoteRejected, TemporaryError
from protocol.exceptions import ProtocolError
from protocol.receipts import Receipt, receipt_from_json, verify_receipt

if TYPE_CHECKING:
    from ..node import Node

MAX_BATCH = 1024
"""Transactions per request: bounds the request body (~250 KiB of raw transfers)."""
MAX_IN_FLIGHT = 2
"""Concurrent batch requests per leader: one gathers while the other is answered."""


@dataclass
class _Lane:
    """The queue towards one leader endpoint."""

    pending: list[tuple[bytes, asyncio.Future]] = field(default_factory=list)
    """(raw transaction, its waiter)"""
    in_flight: int = 0


class Forwarder:
    def __init__(self, node: "Node") -> None:
        self.node = node
        self.lanes: dict[str, _Lane] = {}
        self.batches_sent = 0

    async def forward(self, endpoint: str, leader: bytes, tx_hash: bytes, raw: bytes) -> Receipt:
        """The leader's receipt for one transaction; raises RemoteRejected with the leader's
        reason or TemporaryError when the leader cannot be reached."""
        lane = self.lanes.setdefault(endpoint, _Lane())
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        lane.pending.append((raw, future))
        if lane.in_flight < MAX_IN_FLIGHT:
            lane.in_flight += 1
            self.node.spawn(self._drain(endpoint, lane))
        receipt = await future
        if receipt.tx_hash != tx_hash or receipt.leader != leader or \
                not verify_receipt(receipt, self.node.params.chain_id):
            raise TemporaryError("the leader's receipt does not verify")
        return receipt

    async def _drain(self, endpoint: str, lane: _Lane) -> None:
        try:
            # Yield once so that every submit already runnable in this loop iteration joins
            # the first batch instead of each getting its own request.
            await asyncio.sleep(0)
            while lane.pending:
                batch, lane.pending = lane.pending[:MAX_BATCH], lane.pending[MAX_BATCH:]
                await self._send(endpoint, batch)
        finally:
            lane.in_flight -= 1

    async def _send(self, endpoint: str, batch: list[tuple[bytes, asyncio.Future]]) -> None:
        self.batches_sent += 1
        body = {"raws": ["0x" + raw.hex() for raw, _ in batch]}
        try:
            answer = await self.node.peer_client.post(endpoint, "/peer/forward_batch", body)
            results = answer["results"]
            if not isinstance(results, list) or len(results) != len(batch):
                raise TemporaryError(f"{endpoint}: forward_batch answered {len(results)} results "
                                     f"for {len(batch)} transactions")
        except TemporaryError as error:
            _fail(batch, lambda: TemporaryError(str(error)))
            return
        except RemoteRejected as error:
            _fail(batch, lambda: RemoteRejected(error.status, error.error, error.detail))
            return
        except (KeyError, TypeError) as error:
            _fail(batch, lambda: TemporaryError(f"{endpoint}: malformed forward_batch answer: "
                                                f"{error!r}"))
            return
        for (_, future), result in zip(batch, results):
            if future.done():
                continue
            try:
                if "receipt" in result:
                    future.set_result(receipt_from_json(result["receipt"]))
                elif int(result.get("status", 400)) >= 500:
                    # the leader cannot take transactions now (offline, follower): like an
                    # unreachable leader, the forwarder waits for the next slot's
                    future.set_exception(TemporaryError(f"{endpoint}: {result.get('error')}: "
                                                        f"{result.get('detail')}"))
                else:
                    future.set_exception(RemoteRejected(int(result.get("status", 400)),
                                                        str(result.get("error", "")),
                                                        str(result.get("detail", ""))))
            except (ProtocolError, TypeError, ValueError, AttributeError) as error:
                future.set_exception(TemporaryError(f"{endpoint}: malformed forward result: "
                                                    f"{error!r}"))


def _fail(batch, make_error) -> None:
    # One exception object per waiter: a raised exception carries its own traceback.
    for _, future in batch:
        if not future.done():
            future.set_exception(make_error())
