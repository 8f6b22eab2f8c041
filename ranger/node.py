"""RangerNode: the per-app bundle of one ranger: settings, chain parameters, keys, database,
L1 client, metrics, and the in-memory view the jobs share (the L2 state of the accepted chain,
re-executed block by block).

Spec: docs/spec/ranger.md
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from prometheus_client import Counter, Gauge

from nodekit.http import ServiceClient
from nodekit.db import MAX_DB_INT, create_all, make_engine, make_session_factory
from nodekit.loop import Clock, SystemClock
from nodekit.metrics import make_registry
from nodekit.settings import load_chain_params
from protocol.accounts import address_of
from protocol.blocks import Attestation, Block, Header
from protocol.encoding import encode_attestation, encode_block, encode_signed_header
from protocol.genesis import compute_genesis_header, compute_genesis_state, make_devnet_genesis
from protocol.params import ChainParams
from protocol.signing import NodeKey
from protocol.state import State

from . import repo
from .detect import (
    Finding,
    SignedObject,
    check_equivocation,
    compute_sample_secret,
    hash_of,
    is_signed_object_valid,
    signer_of,
    slot_of,
)
from .l1client import L1Client
from .models import FindingRecord, ObservationRecord, RangerBase
from .settings import RangerSettings

log = logging.getLogger("ranger")

STATE_HISTORY = 256
"""Post-states kept in memory behind the executed head (a deeper rollback re-executes)."""


class RangerMetrics:
    def __init__(self) -> None:
        self.registry = make_registry()
        r = self.registry
        self.blocks_executed = Counter("seqnet_ranger_blocks_executed_total",
                                       "Accepted blocks re-executed", registry=r)
        self.blocks_verified = Counter("seqnet_ranger_blocks_verified_total",
                                       "Sampled blocks verified", registry=r)
        self.blocks_reported = Counter("seqnet_ranger_blocks_reported_total",
                                       "Blocks reported to L1 with report_verified", registry=r)
        self.findings = Counter("seqnet_ranger_findings_total", "Misconduct detected", ("kind",),
                                registry=r)
        self.proofs = Counter("seqnet_ranger_fraud_proofs_total", "Fraud proofs and L1's verdict",
                              ("kind", "status"), registry=r)
        self.receipts = Counter("seqnet_ranger_receipts_total", "Receipts received", registry=r)
        self.observations = Counter("seqnet_ranger_observations_total",
                                    "Signed headers and attestations observed", ("kind",),
                                    registry=r)
        self.head = Gauge("seqnet_ranger_head", "Highest re-executed accepted block", registry=r)
        self.l1_head = Gauge("seqnet_ranger_l1_accepted_head", "L1's accepted L2 head", registry=r)
        self.rewards = Gauge("seqnet_ranger_rewards_wei", "Rewards L1 paid this ranger (verification)",
                             registry=r)


@dataclass
class ChainView:
    """The re-executed accepted chain in memory."""

    states: dict[int, State] = field(default_factory=dict)
    """Post-state of block n (0: genesis)."""
    hashes: dict[int, bytes] = field(default_factory=dict)
    executed: int = 0
    """Highest block re-executed (its post-state is states[executed])."""
    halted_at: int | None = None
    """Block proven invalid: nothing past it is executed until L1 rolls it back."""


class RangerNode:
    def __init__(self, settings: RangerSettings, clock: Clock | None = None,
                 l1: L1Client | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.params: ChainParams = load_chain_params(settings)
        self.genesis = make_devnet_genesis(self.params, settings.extra_accounts)
        self.genesis_state = compute_genesis_state(self.genesis)
        self.genesis_header = compute_genesis_header(self.genesis, self.genesis_state.state_root())
        self.node_key = NodeKey.from_seed(bytes.fromhex(settings.node_key_seed))
        self.sample_secret = compute_sample_secret(self.node_key.seed)
        self.operator_key = bytes.fromhex(settings.operator_key)
        self.operator_address = address_of(self.operator_key)
        self.engine = make_engine(settings.database_url)
        create_all(self.engine, RangerBase.metadata)
        self.sessions = make_session_factory(self.engine)
        self.l1 = l1 or L1Client(settings.l1_url, self.operator_key, self.params.l1_chain_id)
        self.metrics = RangerMetrics()
        self.chain = ChainView()
        self.reset_chain()
        self.registered = False
        self.l1_status: dict | None = None
        self.operators: dict[bytes, bytes] = {}
        """Node key -> operator address of every sequencer registered on L1 (fee recipient)."""
        self.sequencer_endpoints: dict[bytes, str] = {}
        self.sequencers_refreshed_ms = 0
        self._peer_clients: dict[str, ServiceClient] = {}
        self.last_error: str = ""
        self.started_ms = self.clock.now_ms()

    def reset_chain(self) -> None:
        self.chain = ChainView(states={0: self.genesis_state}, hashes={0: self.genesis_header.hash})

    def peer_client(self, url: str) -> ServiceClient:
        client = self._peer_clients.get(url)
        if client is None:
            client = ServiceClient(url, retries=0, timeout_s=3.0, connect_timeout_s=1.0)
            self._peer_clients[url] = client
        return client

    async def close(self) -> None:
        await self.l1.aclose()
        for client in self._peer_clients.values():
            await client.aclose()
        self.engine.dispose()

    # --- shared helpers -------------------------------------------------------------------

    def now_ms(self) -> int:
        return self.clock.now_ms()

    def store_finding(self, finding: Finding, source: str, block_hash: bytes | None = None,
                      block_timestamp_ms: int | None = None) -> tuple[FindingRecord, bool]:
        """Persist a finding once (by evidence hash), before anything is sent to L1."""
        if repo.has_finding_for_offence(self.sessions, finding.kind, finding.offender, finding.slot):
            existing = [f for f in repo.list_findings(self.sessions, 1000, finding.kind)
                        if f.offender == finding.offender and f.slot == finding.slot]
            if existing:
                return existing[0], False
        record, created = repo.add_finding(self.sessions, FindingRecord(
            kind=finding.kind, evidence_hash=finding.evidence_hash, evidence=finding.raw,
            offender=finding.offender, slot=finding.slot, block_number=finding.block_number,
            block_hash=block_hash, reason=finding.reason, source=source,
            detected_at_ms=self.now_ms(), block_timestamp_ms=block_timestamp_ms,
            status="pending", attempts=0, last_error="", l1_reason="", slashed_wei=0,
            reward_wei=0, bond_lost_wei=0))
        if created:
            self.metrics.findings.labels(finding.kind).inc()
            log.warning("%s: %s by 0x%s.. in slot %d: %s", self.settings.name, finding.kind,
                        finding.offender.hex()[:16], finding.slot, finding.reason)
        return record, created

    def is_registered(self, node_key: bytes) -> bool:
        """`node_key` is a sequencer registered on L1 (as of the last refresh of the list, every
        30 s: `follower`). Before the first refresh every key passes: L1 judges the evidence
        anyway, this only keeps noise out of the store."""
        return not self.operators or node_key in self.operators

    def observe(self, obj: SignedObject, source: str, block: Block | None = None) -> list[FindingRecord]:
        """Record a signed header or attestation seen from a sequencer; a second, different
        object signed by the same key for the same slot is equivocation. Objects whose
        signature does not verify, whose slot or number no real block has
        (`fits_database`), or whose signer is not a registered sequencer
        (`is_registered`) are ignored (returns []): anyone can sign, and only registered keys
        can be slashed."""
        if not is_signed_object_valid(obj, self.params) or not fits_database(obj) or \
                not self.is_registered(signer_of(obj)):
            return []
        kind = "attestation" if isinstance(obj, Attestation) else "header"
        raw = encode_attestation(obj) if isinstance(obj, Attestation) \
            else encode_signed_header(obj[0], obj[1])
        signer, slot = signer_of(obj), slot_of(obj)
        created = repo.add_observation(self.sessions, ObservationRecord(
            kind=kind, signer=signer, slot=slot, obj_hash=hash_of(obj), raw=raw,
            block_raw=encode_block(block) if block is not None else None, source=source[:256],
            seen_at_ms=self.now_ms(), censorship_checked=kind != "header"))
        if not created:
            return []
        self.metrics.observations.labels(kind).inc()
        findings = []
        for other in repo.get_observations(self.sessions, kind, signer, slot):
            if other.obj_hash == hash_of(obj):
                continue
            finding = check_equivocation(decode_observation(other), obj, self.params)
            if finding is not None:
                timestamp = obj[0].timestamp_ms if isinstance(obj, tuple) else None
                record, _ = self.store_finding(finding, "observation", None, timestamp)
                findings.append(record)
                break
        return findings


def fits_database(obj: SignedObject) -> bool:
    """Its slot and block number fit the database's 64-bit columns. Larger ones decode (RLP
    integers have no bound) but name no real block: slot 2**63 lies 292 million years after
    genesis. Such objects are noise, like a bad signature."""
    named = obj if isinstance(obj, Attestation) else obj[0]
    return named.slot <= MAX_DB_INT and named.number <= MAX_DB_INT


def decode_observation(record: ObservationRecord) -> SignedObject:
    from protocol.encoding import decode_attestation, decode_signed_header

    if record.kind == "attestation":
        return decode_attestation(record.raw)
    return decode_signed_header(record.raw)


def signed_header_of(block: Block) -> tuple[Header, bytes]:
    return block.header, block.signature
