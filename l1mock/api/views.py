"""Contract records -> API response models."""

from __future__ import annotations

from protocol.blocks import QUEUE_DEPOSIT, Header, QueueItem
from protocol.schedule import SequencerSet, compute_epoch_start_slot, compute_schedule

from ..core.contract import Contract, hx
from ..core.state import AcceptedBlock, Batch, FraudProof, Sequencer, Slash, Unbonding
from ..schemas import (
    BatchResponse,
    BlockResponse,
    DelegationResponse,
    EpochResponse,
    FraudProofResponse,
    MemberResponse,
    QCResponse,
    QueueItemResponse,
    SequencerResponse,
    SlashResponse,
    UnbondingResponse,
)


def unbonding_view(entry: Unbonding, sequencer: bytes | None = None) -> UnbondingResponse:
    return UnbondingResponse(owner=hx(entry.owner), amount=str(entry.amount_wei),
                             release_l1_block=entry.release_l1_block, sequencer=hx(sequencer),
                             source=entry.source)


def sequencer_status(contract: Contract, sequencer: Sequencer) -> str:
    if sequencer.jailed:
        return "jailed"
    if sequencer.total_stake_wei < contract.params.min_sequencer_stake_wei:
        return "inactive"
    return "active"


def sequencer_view(contract: Contract, seq: Sequencer) -> SequencerResponse:
    params = contract.params
    return SequencerResponse(
        node_key=hx(seq.node_key), operator=hx(seq.operator), endpoint=seq.endpoint,
        commission_bps=seq.commission_bps, registered_l1_block=seq.registered_l1_block,
        status=sequencer_status(contract, seq), self_stake=str(seq.self_stake_wei),
        delegated=str(seq.delegated_wei), total_stake=str(seq.total_stake_wei),
        unbonding_total=str(seq.unbonding_wei),
        delegations=[DelegationResponse(owner=hx(owner), amount=str(amount),
                                        self_stake=owner == seq.operator)
                     for owner, amount in seq.stakes.items()],
        unbonding=[unbonding_view(entry, seq.node_key) for entry in seq.unbonding],
        produced=seq.produced, missed=seq.missed,
        recent_missed=sum(1 for entry in seq.recent if not entry),
        jailed_l1_block=seq.jailed_l1_block if seq.jailed else None,
        jailed_from_slot=seq.jailed_from_slot if seq.jailed else None,
        unjail_from_l1_block=(seq.jailed_l1_block + params.unjail_delay_l1_blocks
                              if seq.jailed and seq.jailed_l1_block is not None else None),
        jail_reason=seq.jail_reason, rewards=str(seq.rewards_wei),
        commission_earned=str(seq.commission_wei), slashed=str(seq.slashed_wei),
        slashes=list(seq.slash_ids))


def epoch_view(contract: Contract, sequencer_set: SequencerSet,
               with_schedule: bool) -> EpochResponse:
    params = contract.params
    schedule = compute_schedule(sequencer_set, params) if sequencer_set.members else ()
    counts: dict[bytes, int] = {}
    for leader in schedule:
        counts[leader] = counts.get(leader, 0) + 1
    return EpochResponse(
        epoch=sequencer_set.epoch,
        start_slot=compute_epoch_start_slot(sequencer_set.epoch, params),
        snapshot_l1_block=contract.snapshot_l1_blocks.get(sequencer_set.epoch, 0),
        total_power=sequencer_set.total_power,
        members=[MemberResponse(node_key=hx(m.node_key), operator=hx(m.operator),
                                stake=str(m.stake_wei), power=m.power,
                                slots=counts.get(m.node_key, 0))
                 for m in sequencer_set.members],
        schedule=[hx(leader) for leader in schedule] if with_schedule else None)


def batch_view(contract: Contract, batch: Batch) -> BatchResponse:
    return BatchResponse(id=batch.id, l1_block=batch.l1_block, submitter=hx(batch.submitter),
                         first=batch.numbers[0], last=batch.numbers[-1],
                         hashes=[hx(h) for h in batch.hashes], skipped=batch.skipped,
                         final_l1_block=batch.l1_block
                         + contract.params.challenge_window_l1_blocks)


def header_view(header: Header, **extra) -> BlockResponse:
    qc = header.parent_qc
    return BlockResponse(
        number=header.number, hash=hx(header.hash), parent_hash=hx(header.parent_hash),
        slot=header.slot, timestamp_ms=header.timestamp_ms, producer=hx(header.producer),
        tx_root=hx(header.tx_root), state_root=hx(header.state_root),
        withdrawals_root=hx(header.withdrawals_root), l1_origin=header.l1_origin,
        l1_queue_index=header.l1_queue_index,
        parent_qc=None if qc is None else QCResponse(
            block_hash=hx(qc.block_hash), number=qc.number, slot=qc.slot,
            signers=[hx(key) for key, _ in qc.signers]),
        **extra)


def accepted_block_view(block: AcceptedBlock, raw: bytes | None,
                        transactions: int | None) -> BlockResponse:
    if block.number == 0:
        status = "genesis"
    else:
        status = "finalized" if block.finalized else "accepted"
    return header_view(block.header, status=status,
                       l1_block=None if block.number == 0 else block.l1_block,
                       batch_id=None if block.number == 0 else block.batch_id,
                       finalized_l1_block=block.finalized_l1_block,
                       verified_by=[hx(key) for key in block.verifiers],
                       transactions=transactions, raw=None if raw is None else hx(raw))


def queue_item_view(contract: Contract, item: QueueItem) -> QueueItemResponse:
    deposit = item.kind == QUEUE_DEPOSIT
    return QueueItemResponse(
        index=item.index, kind="deposit" if deposit else "forced_tx", l1_block=item.l1_block,
        due_l1_origin=item.l1_block + contract.params.force_delay_l1_blocks,
        sender=hx(item.sender), to=hx(item.to) if deposit else None, amount=str(item.amount),
        raw_tx=None if deposit else hx(item.raw_tx), consumed=item.index < contract.queue_head)


def slash_view(slash: Slash) -> SlashResponse:
    return SlashResponse(
        id=slash.id, node_key=hx(slash.node_key), reason=slash.reason, bps=slash.bps,
        amount=str(slash.amount_wei), reporter=hx(slash.reporter),
        reporter_paid=str(slash.reporter_paid_wei), burned=str(slash.burned_wei),
        l1_block=slash.l1_block, fraud_proof_id=slash.fraud_proof_id,
        cuts={hx(owner): str(cut) for owner, cut in slash.cuts.items()})


def fraud_proof_view(proof: FraudProof) -> FraudProofResponse:
    return FraudProofResponse(
        id=proof.id, kind=proof.kind, reporter=hx(proof.reporter),
        evidence_hash=hx(proof.evidence_hash), l1_block=proof.l1_block,
        status="accepted" if proof.accepted else "rejected", reason=proof.reason,
        bond=str(proof.bond_wei), offender=hx(proof.offender), slot=proof.slot,
        block_number=proof.block_number, slash_id=proof.slash_id)
