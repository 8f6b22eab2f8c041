"""L1Node: the per-app bundle of the L1 mock: settings, params, genesis, database, the
contract, and the glue that applies each input and commits it in one transaction.

Every accepted call and every L1 block is committed with the events (and L2 blocks) it
produced in one database transaction before anyone can observe it; on start the node
replays the recorded inputs into a fresh contract (docs/adr/0002-l1-persistence.md).

Spec: docs/spec/l1.md
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import threading
import time
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from protocol.exceptions import InvalidEncoding, ProtocolError
from protocol.genesis import compute_genesis_header, make_devnet_genesis
from protocol.l1calls import decode_l1_call
from protocol.params import ChainParams

from nodekit.db import make_engine
from nodekit.settings import load_chain_params

from . import repo
from .core.contract import Contract
from .errors import StoreUnavailable
from .metrics import L1Metrics
from .settings import L1Settings

log = logging.getLogger("l1mock")

SCHEMA_VERSION = "1"
def now_ms() -> int:
    return time.time_ns() // 1_000_000


class L1Node:
    def __init__(self, settings: L1Settings, params: ChainParams, extra_accounts: int,
                 engine: Engine) -> None:
        self.settings = settings
        self.params = params
        self.genesis = make_devnet_genesis(params, extra_accounts)
        self.genesis_header = compute_genesis_header(self.genesis)
        self.engine = engine
        self.metrics = L1Metrics()
        self.lock = threading.RLock()
        self.contract = Contract(params, self.genesis, self.genesis_header)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None

    # --- lifecycle ----------------------------------------------------------------------

    @classmethod
    def open(cls, settings: L1Settings, start_ms: int | None = None) -> "L1Node":
        """Open (or create) the database, replay it, and produce L1 block 0 if it is new."""
        params = load_chain_params(settings)
        engine = make_engine(settings.database_url)
        node = cls(settings, params, settings.extra_accounts, engine)
        node._load(start_ms)
        return node

    def close(self) -> None:
        self.engine.dispose()

    def _identity(self) -> dict[str, str]:
        return {"schema_version": SCHEMA_VERSION,
                "genesis_hash": "0x" + self.genesis_header.hash.hex(),
                "params": json.dumps(dataclasses.asdict(self.params), sort_keys=True)}

    def _load(self, start_ms: int | None) -> None:
        repo.create_schema(self.engine)
        meta = repo.get_meta(self.engine)
        identity = self._identity()
        if not meta:
            repo.put_meta(self.engine, identity)
        else:
            for key, value in identity.items():
                if meta.get(key) != value:
                    raise RuntimeError(
                        f"the database at {self.engine.url!r} belongs to another chain: its "
                        f"{key} differs from this node's (delete it or point at another one)")
        started = time.perf_counter()
        inputs = self._replay()
        log.info("replayed %d inputs in %.2fs", inputs, time.perf_counter() - started)
        if self.contract.head_number < 0:
            self.produce_block(now_ms() if start_ms is None else start_ms)
        self._update_gauges()

    def _replay(self) -> int:
        contract = Contract(self.params, self.genesis, self.genesis_header)
        count = 0
        for kind, item in repo.iter_inputs(self.engine):
            if kind == "tick":
                contract.tick(*item)
            else:
                seq, call = item
                try:
                    contract.execute(call, check_signature=False)
                except ProtocolError as error:
                    raise RuntimeError(f"replay of call {seq} ({call.method}) failed: "
                                       f"{error.name}: {error}") from error
                if contract.calls_applied != seq:
                    raise RuntimeError(f"replay: call {seq} applied as {contract.calls_applied}")
            contract.take_outbox()
            count += 1
        self.contract = contract
        return count

    def _reload_after_failure(self) -> None:
        log.error("database write failed; reloading state from the database")
        try:
            self._replay()
        except Exception:  # noqa: BLE001
            log.exception("reload failed; the node keeps its last state")

    # --- inputs -------------------------------------------------------------------------

    def submit_call(self, body: object) -> dict[str, Any]:
        """Decode, verify and apply one signed call; commit it; return its outcome."""
        try:
            call = decode_l1_call(body)
        except InvalidEncoding:
            self.metrics.calls.labels(method="?", outcome="InvalidEncoding").inc()
            raise
        with self.lock:
            try:
                result = self.contract.execute(call)
            except ProtocolError as error:
                self.metrics.calls.labels(method=call.method, outcome=error.name).inc()
                raise
            outbox = self.contract.take_outbox()
            seq = self.contract.calls_applied
            l1_block = self.contract.head_number
            try:
                with self.engine.begin() as conn:
                    repo.insert_call(conn, seq, l1_block, call, result)
                    repo.insert_events(conn, outbox.events)
                    repo.insert_l2_blocks(conn, outbox.blocks)
            except SQLAlchemyError as error:
                self._reload_after_failure()
                raise StoreUnavailable(f"the call was not applied: {type(error).__name__}") from None
        self.metrics.calls.labels(method=call.method, outcome="ok").inc()
        if call.method == "submit_fraud_proof":
            self.metrics.fraud_proofs.labels(kind=call.args.get("kind", "?"),
                                             result=result.get("status", "?")).inc()
        self._update_gauges()
        self._notify()
        return {"method": call.method, "sender": "0x" + call.sender.hex(), "nonce": call.nonce,
                "seq": seq, "l1_block": l1_block, "result": result}

    def tick(self, now: int) -> bool:
        """Produce the next L1 block if `l1_block_ms` have passed since the head's timestamp."""
        with self.lock:
            if now < self.contract.head_timestamp_ms + self.params.l1_block_ms:
                return False
            self.produce_block(now)
        return True

    def produce_block(self, timestamp_ms: int) -> None:
        with self.lock:
            number = self.contract.head_number + 1
            timestamp_ms = max(timestamp_ms, self.contract.head_timestamp_ms)
            self.contract.tick(number, timestamp_ms)
            outbox = self.contract.take_outbox()
            try:
                with self.engine.begin() as conn:
                    repo.insert_l1_block(conn, number, timestamp_ms)
                    repo.insert_events(conn, outbox.events)
            except SQLAlchemyError:
                self._reload_after_failure()
                raise
        self._update_gauges()
        self._notify()

    # --- events -------------------------------------------------------------------------

    def attach_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._changed = asyncio.Event()

    def _notify(self) -> None:
        loop, changed = self.loop, self._changed
        if loop is None or changed is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake()
        else:
            loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    @property
    def last_event_id(self) -> int:
        return self.contract.next_event_id - 1

    async def wait_for_events(self, after: int, wait_ms: int) -> None:
        """Return when an event with id > `after` exists or `wait_ms` passed."""
        deadline = asyncio.get_running_loop().time() + wait_ms / 1000
        while self.last_event_id <= after:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0 or self._changed is None:
                return
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                return

    # --- metrics ------------------------------------------------------------------------

    def _update_gauges(self) -> None:
        contract = self.contract
        m = self.metrics
        m.l1_head.set(contract.head_number)
        m.accepted_head.set(contract.head_block.number)
        m.finalized_head.set(contract.finalized_number)
        m.queue_length.set(len(contract.queue))
        m.queue_pending.set(len(contract.queue) - contract.queue_head)
        m.sequencers.set(len(contract.sequencers))
        m.jailed.set(sum(1 for s in contract.sequencers.values() if s.jailed))
        m.slashes.set(len(contract.slashes))


