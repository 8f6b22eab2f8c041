"""Build valid (and deliberately invalid) chains in memory: blocks with QCs from a fixed
set of node keys. Used by tests of every service, by benchmarks, and by the devnet's fault
injection to forge what a cheating sequencer would produce. Pure: no I/O, no clock.

Spec: docs/spec/blocks.md#production
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .accounts import dev_accounts
from .blocks import Attestation, Block, Header, QueueItem, QuorumCertificate
from .constants import TOKEN
from .encoding import compute_attestation_hash
from .genesis import Genesis, compute_genesis_header, compute_genesis_state, make_devnet_genesis
from .hashing import keccak256
from .params import ChainParams
from .schedule import Member, SequencerSet, compute_epoch, compute_leader, compute_sequencer_set, compute_slot_start_ms
from .signing import NodeKey
from .state import State
from .transactions import Transaction
from .transition import BlockOutput, build_block

DEVNET_STAKES_TOKENS = (35_000, 30_000, 25_000, 20_000)
"""DESIGN.md section 4: four sequencers, the largest holding 31.8% of the stake."""


def devnet_node_key(index: int, seed: bytes = b"seqnet/devnet/node") -> NodeKey:
    """Deterministic node key of the devnet's sequencer or ranger `index`."""
    return NodeKey.from_seed(keccak256(seed + index.to_bytes(4, "big")))


def devnet_operators(count: int) -> list:
    """Operator accounts of the devnet's sequencers: the last dev accounts (9, 8, 7, ...), so
    that accounts 0-5 stay plain users whose balances only their own transfers change."""
    accounts = dev_accounts(10)
    return [accounts[9 - i] for i in range(count)]


def attest(key: NodeKey, header: Header, params: ChainParams) -> Attestation:
    obj_hash = compute_attestation_hash(header.hash, header.number, header.slot)
    return Attestation(header.hash, header.number, header.slot, key.public,
                       key.sign(b"attestation", params.chain_id, obj_hash))


def make_qc(header: Header, attestations: Sequence[Attestation]) -> QuorumCertificate:
    """A QC from attestations to `header`, signers sorted by node key, duplicates dropped."""
    signers = {a.attester: a.signature for a in attestations if a.block_hash == header.hash}
    return QuorumCertificate(header.hash, header.number, header.slot, tuple(sorted(signers.items())))


@dataclass
class ChainBuilder:
    """A chain driven by a fixed sequencer set, every member honest and online unless told."""

    params: ChainParams
    stakes_tokens: Sequence[int] = DEVNET_STAKES_TOKENS
    genesis: Genesis | None = None
    keys: list[NodeKey] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    states: list[State] = field(default_factory=list)
    outputs: list[BlockOutput | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.genesis is None:
            self.genesis = make_devnet_genesis(self.params)
        if not self.keys:
            self.keys = [devnet_node_key(i) for i in range(len(self.stakes_tokens))]
        operators = [account.address for account in devnet_operators(len(self.keys))]
        self.members = [Member(key.public, operator, stake * TOKEN)
                        for key, operator, stake in zip(self.keys, operators, self.stakes_tokens)]
        self._by_public = {key.public: key for key in self.keys}
        state = compute_genesis_state(self.genesis)
        header = compute_genesis_header(self.genesis, state.state_root())
        self.blocks = [Block(header=header, signature=b"")]
        self.states = [state]
        self.outputs = [None]

    # --- reads ---
    @property
    def head(self) -> Block:
        return self.blocks[-1]

    @property
    def head_state(self) -> State:
        return self.states[-1]

    def sequencer_set(self, epoch: int) -> SequencerSet:
        return compute_sequencer_set(epoch, self.members, self.params)

    def set_for_slot(self, slot: int) -> SequencerSet:
        return self.sequencer_set(compute_epoch(slot, self.params))

    def leader_key(self, slot: int) -> NodeKey:
        return self._by_public[compute_leader(self.set_for_slot(slot), slot, self.params)]

    def operator_of(self, node_key: bytes) -> bytes:
        return next(m.operator for m in self.members if m.node_key == node_key)

    def key_of(self, node_key: bytes) -> NodeKey:
        return self._by_public[node_key]

    def qc_for(self, header: Header) -> QuorumCertificate | None:
        """A QC from every member, or None for the genesis block."""
        if header.number == 0:
            return None
        return make_qc(header, [attest(key, header, self.params) for key in self.keys])

    # --- production ---
    def next_slot(self) -> int:
        return self.head.header.slot + 1

    def build(self, transactions: Sequence[Transaction] = (), queue_items: Sequence[QueueItem] = (),
              slot: int | None = None, l1_origin: int | None = None,
              producer: NodeKey | None = None, append: bool = True) -> Block:
        """Build the next block in `slot` (default: the slot after the head) by its leader."""
        slot = self.next_slot() if slot is None else slot
        producer = producer or self.leader_key(slot)
        parent = self.head.header
        block, state, output = build_block(
            parent, self.head_state, slot=slot,
            timestamp_ms=compute_slot_start_ms(slot, self.params), producer=producer,
            fee_recipient=self.operator_of(producer.public), params=self.params,
            transactions=transactions, queue_items=queue_items, l1_origin=l1_origin,
            parent_qc=self.qc_for(parent))
        if append:
            self.append(block, state, output)
        return block

    def append(self, block: Block, state: State, output: BlockOutput | None = None) -> None:
        self.blocks.append(block)
        self.states.append(state)
        self.outputs.append(output)
