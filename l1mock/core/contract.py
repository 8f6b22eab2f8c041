"""The L1 contract: token ledger, locking pool, epochs, batch inbox, queue, fraud proofs,
slashing and rewards, as one deterministic state machine.

Inputs are L1 blocks (`tick(number, timestamp_ms)`) and signed calls (`execute(call)`), each
applied at the current L1 head. A call either succeeds, or raises a ProtocolError and changes
nothing (every method validates before it writes). Given the same ticks and calls in the same
order, two contracts end in the same state and emit the same events with the same ids: the
service persists those inputs and replays them on restart (docs/adr/0002-l1-persistence.md).

Spec: docs/spec/l1.md
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nacl.signing import VerifyKey

from protocol.blocks import QUEUE_DEPOSIT, QUEUE_FORCED_TX, Block, Header, QueueItem
from protocol.constants import BRIDGE_ADDRESS, MAX_TX_SIZE
from protocol.encoding import decode_block
from protocol.exceptions import InvalidEncoding, InvalidProof, ProtocolError, WrongParent
from protocol.fraud import (
    FRAUD_KINDS,
    FraudContext,
    compute_evidence_hash,
    decode_evidence,
    evidence_block_number,
    evidence_offender,
    verify_fraud_proof,
)
from protocol.genesis import Genesis
from protocol.l1calls import L1Call, recover_l1_call_sender
from protocol.params import BPS, ChainParams
from protocol.schedule import SequencerSet, compute_epoch, compute_leader, compute_slot
from protocol.transactions import decode_transaction
from protocol.transition import validate_block_envelope
from protocol.withdrawals import Withdrawal, verify_withdrawal_proof

from ..errors import (
    AlreadyClaimed,
    AlreadyRegistered,
    BlockConflict,
    BlockNotChallengeable,
    BlockNotFinal,
    BlockRolledBack,
    DuplicateEvidence,
    EpochNotSnapshotted,
    InsufficientFunds,
    InsufficientStake,
    InvalidCall,
    Jailed,
    NonceGap,
    NonceReplay,
    NotJailed,
    NotRegistered,
    NothingToClaim,
    NothingToWithdraw,
    StakeTooLow,
    StillUnbonding,
    UnjailTooEarly,
    UnknownBlock,
    UnknownMethod,
    UnknownSequencer,
)
from . import args as a
from .epochs import compute_due_epochs, compute_first_epoch, take_snapshot
from .state import (
    AcceptedBlock,
    Batch,
    Event,
    FraudProof,
    Outbox,
    Ranger,
    Sequencer,
    Slash,
    StoredBlock,
    Unbonding,
)

MAX_BATCH_BLOCKS = 512
MAX_REPORTED_HASHES = 1024
MAX_EVIDENCE_BYTES = 16 * 1024 * 1024
ENDPOINT_PATTERN = r"^https?://[^\s]{1,250}$"


def hx(data: bytes | None) -> str | None:
    return None if data is None else "0x" + data.hex()


@dataclass(frozen=True)
class MethodSpec:
    handler: str
    args: Mapping[str, a.Parser]
    optional: Mapping[str, Any] | None = None


_SEQUENCER_REF = a.hex_bytes()
"""A sequencer is named by its node key (32 bytes) or its operator address (20 bytes)."""

METHODS: dict[str, MethodSpec] = {
    "transfer": MethodSpec("_transfer", {"to": a.address, "amount": a.positive_amount}),
    "register_sequencer": MethodSpec("_register_sequencer", {
        "node_key": a.node_key, "endpoint": a.text(256, ENDPOINT_PATTERN),
        "stake": a.positive_amount, "commission_bps": a.uint(BPS)}),
    "update_sequencer": MethodSpec("_update_sequencer", {
        "endpoint": a.text(256, ENDPOINT_PATTERN), "commission_bps": a.uint(BPS)},
        optional={"endpoint": None, "commission_bps": None}),
    "delegate": MethodSpec("_delegate", {"sequencer": _SEQUENCER_REF, "amount": a.positive_amount}),
    "undelegate": MethodSpec("_undelegate", {"sequencer": _SEQUENCER_REF,
                                             "amount": a.positive_amount}),
    "withdraw": MethodSpec("_withdraw", {}),
    "claim_rewards": MethodSpec("_claim_rewards", {}),
    "unjail": MethodSpec("_unjail", {}),
    "register_ranger": MethodSpec("_register_ranger", {
        "node_key": a.node_key, "bond": a.positive_amount,
        "endpoint": a.text(256, r"^(https?://[^\s]{1,250})?$")}, optional={"endpoint": ""}),
    "unregister_ranger": MethodSpec("_unregister_ranger", {}),
    "report_verified": MethodSpec("_report_verified", {
        "block_hashes": a.list_of(a.hash32, 1, MAX_REPORTED_HASHES)}),
    "submit_batch": MethodSpec("_submit_batch", {
        "blocks": a.list_of(a.hex_bytes(), 1, MAX_BATCH_BLOCKS)}),
    "deposit": MethodSpec("_deposit", {"to": a.address, "amount": a.positive_amount}),
    "force_tx": MethodSpec("_force_tx", {"raw_tx": a.hex_bytes(max_size=MAX_TX_SIZE)}),
    "claim_withdrawal": MethodSpec("_claim_withdrawal", {
        "block_number": a.uint(), "sender": a.address, "amount": a.positive_amount,
        "index": a.uint(), "proof": a.list_of(a.hex_bytes(max_size=4096), 0, 64)}),
    "submit_fraud_proof": MethodSpec("_submit_fraud_proof", {
        "kind": a.one_of(FRAUD_KINDS), "evidence": a.hex_bytes(max_size=MAX_EVIDENCE_BYTES)}),
}


class Contract:
    """All L1 state, in memory. Mutated only through `tick` and `execute`."""

    def __init__(self, params: ChainParams, genesis: Genesis, genesis_header: Header) -> None:
        self.params = params
        self.genesis_header = genesis_header
        self.head_number: int = -1
        """The latest L1 block; -1 before the first tick."""
        self.head_timestamp_ms: int = 0
        self.balances: dict[bytes, int] = dict(genesis.l1_alloc)
        self.balances[BRIDGE_ADDRESS] = self.balances.get(BRIDGE_ADDRESS, 0) + sum(
            genesis.l2_alloc.values())
        """The bridge address holds the L1 tokens backing L2 balances (genesis + deposits)."""
        self.nonces: dict[bytes, int] = {}
        self.rewards: dict[bytes, int] = {}
        """Pending (claimable) rewards by address."""
        self.minted_wei = 0
        self.burned_wei = 0
        self.sequencers: dict[bytes, Sequencer] = {}
        self.operators: dict[bytes, bytes] = {}
        """operator address -> node key."""
        self.rangers: dict[bytes, Ranger] = {}
        self.ranger_operators: dict[bytes, bytes] = {}
        self.ranger_unbonding: list[Unbonding] = []
        self.snapshots: dict[int, SequencerSet] = {}
        self.snapshot_l1_blocks: dict[int, int] = {}
        self.next_snapshot_epoch: int | None = None
        self.chain: list[AcceptedBlock] = [
            AcceptedBlock(header=genesis_header, l1_block=0, batch_id=-1, finalized_l1_block=0)]
        self.block_numbers: dict[bytes, int] = {genesis_header.hash: 0}
        """hash -> number of every block on the accepted chain."""
        self.discarded: dict[bytes, int] = {}
        """hash -> number of blocks rolled back by a fraud proof."""
        self.finalized_number = 0
        self.counted_through_slot = genesis_header.slot
        self.batches: list[Batch] = []
        self.queue: list[QueueItem] = []
        self.claimed_withdrawals: dict[tuple[bytes, int], int] = {}
        self.fraud_proofs: list[FraudProof] = []
        self.evidence_hashes: dict[bytes, int] = {}
        self.offences: dict[tuple[str, bytes, int], int] = {}
        self.slashes: list[Slash] = []
        self.next_event_id = 1
        self.calls_applied = 0
        self.outbox = Outbox()

    # --- reads ------------------------------------------------------------------------------

    @property
    def head_block(self) -> AcceptedBlock:
        return self.chain[-1]

    @property
    def queue_head(self) -> int:
        """Index of the next queue item the accepted chain must consume."""
        return self.chain[-1].header.l1_queue_index

    def get_nonce(self, address: bytes) -> int:
        return self.nonces.get(address, 0)

    def get_sequencer(self, ref: bytes) -> Sequencer:
        """A sequencer by node key (32 bytes) or operator address (20 bytes)."""
        key = self.operators.get(ref) if len(ref) == 20 else ref
        sequencer = self.sequencers.get(key) if key is not None else None
        if sequencer is None:
            raise UnknownSequencer(f"no sequencer registered as 0x{ref.hex()}")
        return sequencer

    def get_set(self, epoch: int) -> SequencerSet:
        sequencer_set = self.snapshots.get(epoch)
        if sequencer_set is None:
            raise EpochNotSnapshotted(
                f"epoch {epoch} is not snapshotted (next snapshot: epoch {self.next_snapshot_epoch})")
        return sequencer_set

    def get_block(self, number: int) -> AcceptedBlock | None:
        return self.chain[number] if 0 <= number < len(self.chain) else None

    def compute_jailed(self, slot: int) -> set[bytes]:
        """Node keys whose blocks for `slot` are refused: jailed, from their jail slot on."""
        return {seq.node_key for seq in self.sequencers.values()
                if seq.jailed and seq.jailed_from_slot is not None and slot >= seq.jailed_from_slot}

    def current_slot(self) -> int | None:
        if self.head_timestamp_ms < self.params.genesis_time_ms:
            return None
        return compute_slot(self.head_timestamp_ms, self.params)

    # --- inputs -----------------------------------------------------------------------------

    def tick(self, number: int, timestamp_ms: int) -> None:
        """Produce L1 block `number`: snapshot due epochs, finalize due blocks."""
        if number != self.head_number + 1:
            raise ValueError(f"L1 block {number} does not follow head {self.head_number}")
        if number > 0 and timestamp_ms < self.head_timestamp_ms:
            raise ValueError(f"L1 block {number} timestamp goes backwards")
        self.head_number = number
        self.head_timestamp_ms = timestamp_ms
        self._snapshot_due_epochs()
        self._finalize_due_blocks()

    def execute(self, call: L1Call, *, check_signature: bool = True) -> dict[str, Any]:
        """Apply one signed call at the current head. Raises ProtocolError and changes nothing
        when the call is forged, replayed, malformed or refused by the method's rules."""
        if self.head_number < 0:
            raise InvalidCall("the L1 has produced no block yet")
        spec = METHODS.get(call.method)
        if spec is None:
            raise UnknownMethod(f"unknown method {call.method[:64]!r}")
        if check_signature:
            recover_l1_call_sender(call, self.params.l1_chain_id)
        expected = self.get_nonce(call.sender)
        if call.nonce < expected:
            raise NonceReplay(f"nonce {call.nonce} of 0x{call.sender.hex()} was already used; "
                              f"next is {expected}")
        if call.nonce > expected:
            raise NonceGap(f"nonce {call.nonce} of 0x{call.sender.hex()} leaves a gap; "
                           f"next is {expected}")
        parsed = a.parse_args(call.method, call.args, spec.args, spec.optional)
        mark = self.outbox.mark()
        try:
            result = getattr(self, spec.handler)(call.sender, **parsed)
        except BaseException:
            self.outbox.reset_to(mark)
            raise
        self.nonces[call.sender] = expected + 1
        self.calls_applied += 1
        return result

    def take_outbox(self) -> Outbox:
        outbox, self.outbox = self.outbox, Outbox()
        return outbox

    # --- helpers ----------------------------------------------------------------------------

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        self.outbox.events.append(Event(self.next_event_id, self.head_number, kind, data))
        self.next_event_id += 1

    def _require_funds(self, owner: bytes, amount: int) -> None:
        balance = self.balances.get(owner, 0)
        if balance < amount:
            raise InsufficientFunds(f"0x{owner.hex()} holds {balance} wei, needs {amount}")

    def _debit(self, owner: bytes, amount: int) -> None:
        self.balances[owner] = self.balances.get(owner, 0) - amount

    def _credit(self, owner: bytes, amount: int) -> None:
        self.balances[owner] = self.balances.get(owner, 0) + amount

    def _reward(self, owner: bytes, amount: int) -> None:
        if amount:
            self.rewards[owner] = self.rewards.get(owner, 0) + amount

    def _require_operator(self, sender: bytes) -> Sequencer:
        key = self.operators.get(sender)
        if key is None:
            raise NotRegistered(f"0x{sender.hex()} operates no sequencer")
        return self.sequencers[key]

    def _require_node_key(self, node_key: bytes) -> None:
        try:
            VerifyKey(node_key)
        except Exception:  # noqa: BLE001 - nacl raises several types for a bad point
            raise InvalidCall(f"node_key 0x{node_key.hex()} is not an Ed25519 public key") from None
        if node_key in self.sequencers or node_key in self.rangers:
            raise AlreadyRegistered(f"node key 0x{node_key.hex()} is already registered")

    # --- token ------------------------------------------------------------------------------

    def _transfer(self, sender: bytes, to: bytes, amount: int) -> dict:
        self._require_funds(sender, amount)
        self._debit(sender, amount)
        self._credit(to, amount)
        self._emit("Transfer", {"from": hx(sender), "to": hx(to), "amount": str(amount)})
        return {}

    # --- locking pool -----------------------------------------------------------------------

    def _register_sequencer(self, sender: bytes, node_key: bytes, endpoint: str, stake: int,
                            commission_bps: int) -> dict:
        if stake < self.params.min_sequencer_stake_wei:
            raise StakeTooLow(f"self-stake {stake} wei is below the minimum "
                              f"{self.params.min_sequencer_stake_wei}")
        self._require_node_key(node_key)
        if sender in self.operators:
            raise AlreadyRegistered(f"0x{sender.hex()} already operates sequencer "
                                    f"0x{self.operators[sender].hex()}")
        self._require_funds(sender, stake)
        self._debit(sender, stake)
        self.sequencers[node_key] = Sequencer(
            node_key=node_key, operator=sender, endpoint=endpoint, commission_bps=commission_bps,
            registered_l1_block=self.head_number, stakes={sender: stake},
            recent=deque(maxlen=self.params.downtime_window_slots))
        self.operators[sender] = node_key
        self._emit("SequencerRegistered", {
            "node_key": hx(node_key), "operator": hx(sender), "endpoint": endpoint,
            "stake": str(stake), "commission_bps": commission_bps})
        return {"node_key": hx(node_key)}

    def _update_sequencer(self, sender: bytes, endpoint: str | None,
                          commission_bps: int | None) -> dict:
        sequencer = self._require_operator(sender)
        if endpoint is None and commission_bps is None:
            raise InvalidCall("update_sequencer: nothing to update")
        if endpoint is not None:
            sequencer.endpoint = endpoint
        if commission_bps is not None:
            sequencer.commission_bps = commission_bps
        self._emit("SequencerUpdated", {"node_key": hx(sequencer.node_key),
                                        "endpoint": sequencer.endpoint,
                                        "commission_bps": sequencer.commission_bps})
        return {}

    def _delegate(self, sender: bytes, sequencer: bytes, amount: int) -> dict:
        target = self.get_sequencer(sequencer)
        if target.jailed:
            raise Jailed(f"sequencer 0x{target.node_key.hex()} is jailed")
        self._require_funds(sender, amount)
        self._debit(sender, amount)
        target.stakes[sender] = target.stakes.get(sender, 0) + amount
        self._emit("Delegated", {"delegator": hx(sender), "node_key": hx(target.node_key),
                                 "amount": str(amount), "stake": str(target.stakes[sender])})
        return {"stake": str(target.stakes[sender])}

    def _undelegate(self, sender: bytes, sequencer: bytes, amount: int) -> dict:
        target = self.get_sequencer(sequencer)
        staked = target.stakes.get(sender, 0)
        if staked < amount:
            raise InsufficientStake(f"0x{sender.hex()} has {staked} wei staked with "
                                    f"0x{target.node_key.hex()}, cannot undelegate {amount}")
        release = self.head_number + self.params.unbonding_l1_blocks
        if staked == amount:
            del target.stakes[sender]
        else:
            target.stakes[sender] = staked - amount
        target.unbonding.append(Unbonding(sender, amount, release))
        self._emit("Undelegated", {"delegator": hx(sender), "node_key": hx(target.node_key),
                                   "amount": str(amount), "release_l1_block": release})
        return {"release_l1_block": release}

    def _withdraw(self, sender: bytes) -> dict:
        pools = [seq.unbonding for seq in self.sequencers.values()] + [self.ranger_unbonding]
        owned = [(pool, entry) for pool in pools for entry in pool if entry.owner == sender]
        if not owned:
            raise NothingToWithdraw(f"0x{sender.hex()} has nothing unbonding")
        matured = [(pool, entry) for pool, entry in owned
                   if entry.release_l1_block <= self.head_number]
        if not matured:
            first = min(entry.release_l1_block for _, entry in owned)
            raise StillUnbonding(f"nothing releasable before L1 block {first} "
                                 f"(head {self.head_number})")
        total = 0
        for pool, entry in matured:
            pool.remove(entry)
            total += entry.amount_wei
        self._credit(sender, total)
        self._emit("Withdrawn", {"owner": hx(sender), "amount": str(total)})
        return {"amount": str(total)}

    def _claim_rewards(self, sender: bytes) -> dict:
        pending = self.rewards.get(sender, 0)
        if not pending:
            raise NothingToClaim(f"0x{sender.hex()} has no pending reward")
        del self.rewards[sender]
        self._credit(sender, pending)
        self._emit("RewardsClaimed", {"owner": hx(sender), "amount": str(pending)})
        return {"amount": str(pending)}

    def _unjail(self, sender: bytes) -> dict:
        sequencer = self._require_operator(sender)
        if not sequencer.jailed:
            raise NotJailed(f"sequencer 0x{sequencer.node_key.hex()} is not jailed")
        allowed = (sequencer.jailed_l1_block or 0) + self.params.unjail_delay_l1_blocks
        if self.head_number < allowed:
            raise UnjailTooEarly(f"unjail allowed from L1 block {allowed} (head {self.head_number})")
        sequencer.jailed = False
        sequencer.jailed_from_slot = None
        sequencer.jail_reason = ""
        sequencer.recent.clear()
        self._emit("Unjailed", {"node_key": hx(sequencer.node_key)})
        return {}

    def _register_ranger(self, sender: bytes, node_key: bytes, bond: int, endpoint: str) -> dict:
        if bond < self.params.min_ranger_bond_wei:
            raise StakeTooLow(f"ranger bond {bond} wei is below the minimum "
                              f"{self.params.min_ranger_bond_wei}")
        self._require_node_key(node_key)
        if sender in self.ranger_operators:
            raise AlreadyRegistered(f"0x{sender.hex()} already operates ranger "
                                    f"0x{self.ranger_operators[sender].hex()}")
        self._require_funds(sender, bond)
        self._debit(sender, bond)
        self.rangers[node_key] = Ranger(node_key, sender, bond, self.head_number, endpoint)
        self.ranger_operators[sender] = node_key
        self._emit("RangerRegistered", {"node_key": hx(node_key), "operator": hx(sender),
                                        "bond": str(bond), "endpoint": endpoint})
        return {"node_key": hx(node_key)}

    def _unregister_ranger(self, sender: bytes) -> dict:
        key = self.ranger_operators.get(sender)
        if key is None:
            raise NotRegistered(f"0x{sender.hex()} operates no ranger")
        ranger = self.rangers.pop(key)
        del self.ranger_operators[sender]
        release = self.head_number + self.params.unbonding_l1_blocks
        self.ranger_unbonding.append(Unbonding(sender, ranger.bond_wei, release, "ranger_bond"))
        self._emit("RangerUnregistered", {"node_key": hx(key), "release_l1_block": release})
        return {"release_l1_block": release}

    def _report_verified(self, sender: bytes, block_hashes: list[bytes]) -> dict:
        key = self.ranger_operators.get(sender)
        if key is None:
            raise NotRegistered(f"0x{sender.hex()} operates no ranger")
        numbers = []
        for block_hash in block_hashes:
            number = self.block_numbers.get(block_hash)
            if number is None:
                raise UnknownBlock(f"block 0x{block_hash.hex()} is not on L1's accepted chain")
            numbers.append(number)
        recorded = 0
        for number in numbers:
            block = self.chain[number]
            if not block.finalized and key not in block.verifiers:
                block.verifiers[key] = None
                recorded += 1
        self.rangers[key].verified += recorded
        self._emit("BlocksVerified", {"ranger": hx(key), "reported": len(numbers),
                                      "recorded": recorded})
        return {"recorded": recorded}

    # --- epochs -----------------------------------------------------------------------------

    def _snapshot_due_epochs(self) -> None:
        # Epochs that ended while the L1 was not ticking are never snapshotted: no leader
        # could have known their schedule. compute_first_epoch is the current epoch.
        current = compute_first_epoch(self.head_timestamp_ms, self.params)
        if self.next_snapshot_epoch is None or self.next_snapshot_epoch < current:
            self.next_snapshot_epoch = current
        for epoch in compute_due_epochs(self.next_snapshot_epoch, self.head_timestamp_ms,
                                        self.params):
            sequencer_set = take_snapshot(epoch, self.sequencers.values(), self.params)
            self.snapshots[epoch] = sequencer_set
            self.snapshot_l1_blocks[epoch] = self.head_number
            self.next_snapshot_epoch = epoch + 1
            self._emit("EpochSnapshotted", {
                "epoch": epoch, "total_power": sequencer_set.total_power,
                "members": [{"node_key": hx(m.node_key), "operator": hx(m.operator),
                             "stake": str(m.stake_wei)} for m in sequencer_set.members]})

    # --- batch inbox ------------------------------------------------------------------------

    def _submit_batch(self, sender: bytes, blocks: list[bytes]) -> dict:
        decoded: list[tuple[Block, bytes]] = []
        for position, raw in enumerate(blocks):
            try:
                decoded.append((decode_block(raw), raw))
            except InvalidEncoding as error:
                raise InvalidEncoding(f"blocks[{position}]: {error}") from None
        for (previous, _), (block, _) in zip(decoded, decoded[1:]):
            if block.number != previous.number + 1:
                raise InvalidCall(f"batch blocks must have consecutive numbers: "
                                  f"{block.number} follows {previous.number}")
        new: list[tuple[Block, bytes]] = []
        for block, raw in decoded:
            number = block.number
            if block.hash in self.discarded:
                raise BlockRolledBack(f"block {number} 0x{block.hash.hex()} was rolled back by a "
                                      f"fraud proof")
            if number < len(self.chain):
                if self.chain[number].hash != block.hash:
                    raise BlockConflict(
                        f"block {number} 0x{block.hash.hex()[:16]}.. conflicts with the accepted "
                        f"0x{self.chain[number].hash.hex()[:16]}..")
                continue
            new.append((block, raw))
        skipped = len(decoded) - len(new)
        if not new:
            return {"accepted": 0, "skipped": skipped, "batch_id": None}

        parent = self.head_block.header
        if new[0][0].number != parent.number + 1:
            raise WrongParent(f"block {new[0][0].number} does not extend the accepted chain "
                              f"(head {parent.number})")
        for block, _ in new:
            header = block.header
            try:
                sequencer_set = self.get_set(compute_epoch(header.slot, self.params))
                parent_set = (None if parent.number == 0 else
                              self.snapshots.get(compute_epoch(parent.slot, self.params)))
                queue = self.queue[parent.l1_queue_index:]
                validate_block_envelope(block, parent, sequencer_set, parent_set, queue,
                                        self.head_number, self.params,
                                        self.compute_jailed(header.slot))
            except ProtocolError as error:
                raise _prefixed(error, f"block {header.number}") from None
            parent = header

        batch_id = len(self.batches)
        for block, raw in new:
            self._count_slots(self.head_block.header.slot, block.header)
            accepted = AcceptedBlock(header=block.header, l1_block=self.head_number,
                                     batch_id=batch_id)
            self.chain.append(accepted)
            self.block_numbers[block.hash] = block.number
            self.outbox.blocks.append(StoredBlock(block.hash, block.number, raw, batch_id,
                                                  self.head_number))
        batch = Batch(batch_id, self.head_number, sender, [b.number for b, _ in new],
                      [b.hash for b, _ in new], skipped)
        self.batches.append(batch)
        self._emit("BatchAccepted", {
            "batch_id": batch_id, "submitter": hx(sender), "first": batch.numbers[0],
            "last": batch.numbers[-1], "hashes": [hx(h) for h in batch.hashes],
            "skipped": skipped})
        return {"accepted": len(new), "skipped": skipped, "batch_id": batch_id,
                "first": batch.numbers[0], "last": batch.numbers[-1]}

    def _count_slots(self, parent_slot: int, header: Header) -> None:
        """Count the slots between the parent and this block as missed by their leaders, and
        this block's slot as produced; jail for downtime. Each slot is counted once, even
        when the chain is rebuilt after a rollback."""
        start = max(parent_slot, self.counted_through_slot) + 1
        for slot in range(start, header.slot):
            self._count_slot(slot, produced=False)
        if header.slot > self.counted_through_slot:
            self._count_slot(header.slot, produced=True)
            self.counted_through_slot = header.slot

    def _count_slot(self, slot: int, produced: bool) -> None:
        sequencer_set = self.snapshots.get(compute_epoch(slot, self.params))
        if sequencer_set is None or not sequencer_set.members:
            return
        sequencer = self.sequencers[compute_leader(sequencer_set, slot, self.params)]
        if sequencer.jailed:
            return  # a jailed leader's slots are empty by rule, not missed
        if produced:
            sequencer.produced += 1
        else:
            sequencer.missed += 1
        sequencer.recent.append(produced)
        if not produced:
            missed = sum(1 for entry in sequencer.recent if not entry)
            if missed > self.params.downtime_max_missed:
                self._slash(sequencer, self.params.slash_downtime_bps, "downtime", None, None)
                self._jail(sequencer, f"downtime: missed {missed} of its last "
                                      f"{len(sequencer.recent)} slots")

    def _finalize_due_blocks(self) -> None:
        window = self.params.challenge_window_l1_blocks
        while self.finalized_number + 1 < len(self.chain):
            block = self.chain[self.finalized_number + 1]
            if block.l1_block + window > self.head_number:
                break
            self._finalize(block)
            self.finalized_number = block.number

    def _finalize(self, block: AcceptedBlock) -> None:
        block.finalized_l1_block = self.head_number
        producer = self.sequencers.get(block.header.producer)
        block_reward = self.params.block_reward_wei if producer is not None else 0
        if producer is not None and block_reward:
            self._pay_pool(producer, block_reward, block.number)
        rangers = [key for key in block.verifiers if key in self.rangers]
        ranger_paid = 0
        if rangers and self.params.ranger_reward_wei:
            share = self.params.ranger_reward_wei // len(rangers)
            for key in rangers:
                ranger = self.rangers[key]
                self._reward(ranger.operator, share)
                ranger.rewards_wei += share
                ranger_paid += share
            self.minted_wei += ranger_paid
            self._emit("RewardPaid", {"kind": "ranger", "block": block.number,
                                      "rangers": [hx(k) for k in rangers],
                                      "amount_each": str(share)})
        self._emit("BlockFinalized", {"number": block.number, "hash": hx(block.hash),
                                      "producer": hx(block.header.producer),
                                      "block_reward": str(block_reward),
                                      "ranger_reward": str(ranger_paid)})

    def _pay_pool(self, sequencer: Sequencer, reward: int, number: int) -> None:
        """Commission to the operator, the rest pro rata to the active stake (self included);
        rounding dust goes to the operator."""
        commission = reward * sequencer.commission_bps // BPS
        rest = reward - commission
        total = sequencer.total_stake_wei
        paid = 0
        if total:
            for owner, stake in sequencer.stakes.items():
                share = rest * stake // total
                self._reward(owner, share)
                paid += share
        self._reward(sequencer.operator, commission + rest - paid)
        sequencer.rewards_wei += reward
        sequencer.commission_wei += commission
        self.minted_wei += reward
        self._emit("RewardPaid", {"kind": "block", "block": number,
                                  "node_key": hx(sequencer.node_key), "amount": str(reward),
                                  "commission": str(commission)})

    # --- queue and bridge -------------------------------------------------------------------

    def _deposit(self, sender: bytes, to: bytes, amount: int) -> dict:
        self._require_funds(sender, amount)
        self._debit(sender, amount)
        self._credit(BRIDGE_ADDRESS, amount)
        item = QueueItem(index=len(self.queue), kind=QUEUE_DEPOSIT, l1_block=self.head_number,
                         sender=sender, to=to, amount=amount, raw_tx=b"")
        self._enqueue(item)
        return {"index": item.index}

    def _force_tx(self, sender: bytes, raw_tx: bytes) -> dict:
        try:
            tx = decode_transaction(raw_tx)
        except ProtocolError as error:
            raise _prefixed(error, "raw_tx") from None
        item = QueueItem(index=len(self.queue), kind=QUEUE_FORCED_TX, l1_block=self.head_number,
                         sender=sender, to=b"", amount=0, raw_tx=raw_tx)
        self._enqueue(item, tx_hash=tx.hash)
        return {"index": item.index}

    def _enqueue(self, item: QueueItem, tx_hash: bytes | None = None) -> None:
        self.queue.append(item)
        data = {"index": item.index, "kind": "deposit" if item.kind == QUEUE_DEPOSIT else "forced_tx",
                "l1_block": item.l1_block, "sender": hx(item.sender),
                "due_l1_origin": item.l1_block + self.params.force_delay_l1_blocks}
        if item.kind == QUEUE_DEPOSIT:
            data.update(to=hx(item.to), amount=str(item.amount))
        else:
            data.update(tx_hash=hx(tx_hash))
        self._emit("QueueItemAdded", data)

    def _claim_withdrawal(self, caller: bytes, block_number: int, sender: bytes, amount: int,
                          index: int, proof: list[bytes]) -> dict:
        block = self.get_block(block_number)
        if block is None:
            raise UnknownBlock(f"block {block_number} is not on L1's accepted chain")
        if not block.finalized:
            raise BlockNotFinal(f"block {block_number} is not final yet (accepted at L1 block "
                                f"{block.l1_block}, final at "
                                f"{block.l1_block + self.params.challenge_window_l1_blocks})")
        claim = Withdrawal(sender, amount, index)
        key = (block.hash, claim.index)
        if key in self.claimed_withdrawals:
            raise AlreadyClaimed(f"withdrawal {claim.index} of block {block_number} was claimed")
        if not verify_withdrawal_proof(block.header.withdrawals_root, claim, proof):
            raise InvalidProof(f"proof does not show withdrawal {claim.index} "
                               f"({claim.amount} wei to 0x{claim.sender.hex()}) under block "
                               f"{block_number}'s withdrawals root")
        self._require_funds(BRIDGE_ADDRESS, claim.amount)
        self._debit(BRIDGE_ADDRESS, claim.amount)
        self._credit(claim.sender, claim.amount)
        self.claimed_withdrawals[key] = self.head_number
        self._emit("WithdrawalClaimed", {"block": block_number, "index": claim.index,
                                         "to": hx(claim.sender), "amount": str(claim.amount),
                                         "claimed_by": hx(caller)})
        return {"amount": str(claim.amount)}

    # --- fraud proofs, slashing -------------------------------------------------------------

    def _submit_fraud_proof(self, sender: bytes, kind: str, evidence: bytes) -> dict:
        evidence_hash = compute_evidence_hash(kind, evidence)
        if evidence_hash in self.evidence_hashes:
            raise DuplicateEvidence(f"evidence 0x{evidence_hash.hex()} was already submitted "
                                    f"(fraud proof {self.evidence_hashes[evidence_hash]})")
        decoded = decode_evidence(kind, evidence)
        offender = evidence_offender(decoded)
        if offender not in self.sequencers:
            raise UnknownSequencer(f"evidence names node key 0x{offender.hex()}, which is not a "
                                   f"registered sequencer")
        bond = self.params.fraud_bond_wei
        self._require_funds(sender, bond)
        ctx = FraudContext()
        if kind == "invalid_state":
            number = evidence_block_number(decoded)
            block = self.get_block(number) if number else None
            if block is None:
                raise UnknownBlock(f"block {number} is not on L1's accepted chain")
            if block.finalized:
                raise BlockNotChallengeable(f"block {number} is final since L1 block "
                                            f"{block.finalized_l1_block}")
            producer = self.sequencers[block.header.producer]
            ctx = FraudContext(parent_state_root=self.chain[number - 1].header.state_root,
                               fee_recipient=producer.operator, accepted_block_hash=block.hash)
        elif kind == "censorship":
            index = decoded.item.index
            ctx = FraudContext(queue_item=self.queue[index] if index < len(self.queue) else None)
        try:
            verdict = verify_fraud_proof(kind, decoded, ctx, self.params)
        except ProtocolError as error:
            return self._reject_fraud_proof(sender, kind, evidence_hash, bond, error)
        except Exception as error:  # noqa: BLE001 - bad input must not crash the L1
            raise InvalidCall(f"evidence could not be verified: {type(error).__name__}") from None
        offence = (kind, verdict.offender, verdict.slot)
        if offence in self.offences:
            raise DuplicateEvidence(f"{kind} by 0x{verdict.offender.hex()} in slot {verdict.slot} "
                                    f"was already proven (fraud proof {self.offences[offence]})")
        sequencer = self.sequencers.get(verdict.offender)
        if sequencer is None:
            raise UnknownSequencer(f"offender 0x{verdict.offender.hex()} is not registered")

        proof = FraudProof(id=len(self.fraud_proofs), kind=kind, reporter=sender,
                           evidence_hash=evidence_hash, l1_block=self.head_number, accepted=True,
                           reason=verdict.reason, bond_wei=bond, offender=verdict.offender,
                           slot=verdict.slot, block_number=verdict.block_number)
        self.fraud_proofs.append(proof)
        self.evidence_hashes[evidence_hash] = proof.id
        self.offences[offence] = proof.id
        self._emit("FraudProofAccepted", {
            "id": proof.id, "kind": kind, "reporter": hx(sender), "offender": hx(verdict.offender),
            "slot": verdict.slot, "block_number": verdict.block_number, "reason": verdict.reason,
            "evidence_hash": hx(evidence_hash)})
        slash = self._slash(sequencer, self.params.slash_bps(kind), kind, sender, proof.id)
        proof.slash_id = slash.id
        self._jail(sequencer, f"{kind}: {verdict.reason}")
        if kind == "invalid_state" and verdict.block_number is not None:
            self._roll_back(verdict.block_number)
        return {"status": "accepted", "id": proof.id, "slash_id": slash.id,
                "slashed": str(slash.amount_wei), "reporter_paid": str(slash.reporter_paid_wei),
                "reason": verdict.reason}

    def _reject_fraud_proof(self, sender: bytes, kind: str, evidence_hash: bytes, bond: int,
                            error: ProtocolError) -> dict:
        reason = f"{error.name}: {error}"
        self._debit(sender, bond)
        self.burned_wei += bond
        proof = FraudProof(id=len(self.fraud_proofs), kind=kind, reporter=sender,
                           evidence_hash=evidence_hash, l1_block=self.head_number, accepted=False,
                           reason=reason, bond_wei=bond)
        self.fraud_proofs.append(proof)
        self.evidence_hashes[evidence_hash] = proof.id
        self._emit("FraudProofRejected", {"id": proof.id, "kind": kind, "reporter": hx(sender),
                                          "reason": reason, "bond_lost": str(bond),
                                          "evidence_hash": hx(evidence_hash)})
        return {"status": "rejected", "id": proof.id, "reason": reason, "bond_lost": str(bond)}

    def _slash(self, sequencer: Sequencer, bps: int, reason: str, reporter: bytes | None,
               fraud_proof_id: int | None) -> Slash:
        """Cut every stake of the pool by `bps`: self, delegated and unbonding, pro rata."""
        cuts: dict[bytes, int] = {}
        for owner, stake in list(sequencer.stakes.items()):
            cut = stake * bps // BPS
            if cut:
                sequencer.stakes[owner] = stake - cut
                cuts[owner] = cuts.get(owner, 0) + cut
        for entry in sequencer.unbonding:
            cut = entry.amount_wei * bps // BPS
            if cut:
                entry.amount_wei -= cut
                cuts[entry.owner] = cuts.get(entry.owner, 0) + cut
        total = sum(cuts.values())
        reporter_paid = total * self.params.reporter_share_bps // BPS if reporter else 0
        if reporter is not None:
            self._credit(reporter, reporter_paid)
        burned = total - reporter_paid
        self.burned_wei += burned
        slash = Slash(id=len(self.slashes), node_key=sequencer.node_key, reason=reason, bps=bps,
                      amount_wei=total, reporter=reporter, reporter_paid_wei=reporter_paid,
                      burned_wei=burned, l1_block=self.head_number, cuts=cuts,
                      fraud_proof_id=fraud_proof_id)
        self.slashes.append(slash)
        sequencer.slashed_wei += total
        sequencer.slash_ids.append(slash.id)
        self._emit("Slashed", {"id": slash.id, "node_key": hx(sequencer.node_key),
                               "reason": reason, "amount": str(total),
                               "reporter": hx(reporter), "reporter_paid": str(reporter_paid),
                               "burned": str(burned),
                               "cuts": {hx(owner): str(cut) for owner, cut in cuts.items()}})
        return slash

    def _jail(self, sequencer: Sequencer, reason: str) -> None:
        current = self.current_slot()
        sequencer.jailed = True
        sequencer.jailed_l1_block = self.head_number
        sequencer.jailed_from_slot = 0 if current is None else current + 1
        sequencer.jail_reason = reason
        self._emit("Jailed", {"node_key": hx(sequencer.node_key), "reason": reason,
                              "from_slot": sequencer.jailed_from_slot,
                              "unjail_from_l1_block":
                                  self.head_number + self.params.unjail_delay_l1_blocks})

    def _roll_back(self, number: int) -> None:
        """Discard accepted block `number` and every later one."""
        if not self.finalized_number < number < len(self.chain):
            return
        discarded = self.chain[number:]
        del self.chain[number:]
        for block in discarded:
            del self.block_numbers[block.hash]
            self.discarded[block.hash] = block.number
        self._emit("RolledBack", {"from": number, "head": number - 1,
                                  "head_hash": hx(self.chain[-1].hash),
                                  "discarded": [hx(block.hash) for block in discarded]})


def _prefixed(error: ProtocolError, prefix: str) -> ProtocolError:
    """The same error class with `prefix: ` in front of its message."""
    try:
        return type(error)(f"{prefix}: {error}")
    except TypeError:
        return error
