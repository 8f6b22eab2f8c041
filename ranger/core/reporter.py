"""Reporter: everything the ranger tells L1. Registers the ranger (once), submits each pending
finding with submit_fraud_proof (never evidence L1 already holds: it looks first), records
L1's verdict, slash and reward, and reports verified blocks (report_verified) so that the
finalized ones pay the ranger reward. Transient failures are retried on the next tick; a
finding is persisted before anything is sent, so a restart loses nothing.

Spec: docs/spec/ranger.md#reporting
"""

from __future__ import annotations

import logging
import re

from nodekit.errors import RemoteRejected, TemporaryError
from nodekit.loop import run_loop
from protocol.constants import TOKEN

from .. import repo
from ..models import FindingRecord
from ..node import RangerNode

log = logging.getLogger("ranger.reporter")
MAX_ATTEMPTS = 20
_HASH_IN_DETAIL = re.compile(r"0x([0-9a-f]{64})")


async def ensure_registered(node: RangerNode) -> None:
    if node.registered:
        return
    rangers = await node.l1.get_rangers()
    mine = "0x" + node.node_key.public.hex()
    if any(r["node_key"] == mine for r in rangers):
        node.registered = True
        return
    if not node.settings.register_on_start:
        return
    try:
        await node.l1.register_ranger(node.node_key.public, node.settings.bond_tokens * TOKEN,
                                      node.settings.public_url)
        log.info("%s: registered on L1 with a %d-token bond", node.settings.name,
                 node.settings.bond_tokens)
    except RemoteRejected as error:
        if error.error != "AlreadyRegistered":
            raise
    node.registered = True


async def resolve_from_l1(node: RangerNode, finding: FindingRecord, proof: dict, now_ms: int) -> None:
    """Record what L1 decided about evidence it holds."""
    mine = proof.get("reporter") == "0x" + node.operator_address.hex()
    if not mine:
        repo.update_finding(node.sessions, finding.id, status="duplicate", l1_proof_id=proof["id"],
                            l1_reason=proof.get("reason", ""), l1_block=proof.get("l1_block"),
                            resolved_at_ms=now_ms)
        return
    accepted = proof.get("status") == "accepted"
    values: dict = dict(status="accepted" if accepted else "rejected", l1_proof_id=proof["id"],
                        l1_reason=proof.get("reason", ""), l1_block=proof.get("l1_block"),
                        resolved_at_ms=now_ms)
    if accepted and proof.get("slash_id") is not None:
        slash = await node.l1.get_slash(int(proof["slash_id"]))
        values.update(slash_id=slash["id"], slashed_wei=int(slash["amount"]),
                      reward_wei=int(slash["reporter_paid"]))
    if not accepted:
        values.update(bond_lost_wei=int(proof.get("bond") or 0))
    repo.update_finding(node.sessions, finding.id, **values)
    node.metrics.proofs.labels(finding.kind, values["status"]).inc()
    log.warning("%s: L1 %s the %s proof %d: %s", node.settings.name, values["status"],
                finding.kind, proof["id"], proof.get("reason", ""))


async def submit_findings(node: RangerNode, now_ms: int) -> None:
    pending = repo.get_findings_by_status(node.sessions, "pending")
    if not pending:
        return
    on_l1 = {p["evidence_hash"]: p for p in await node.l1.get_fraud_proofs()}
    for finding in pending:
        proof = on_l1.get("0x" + finding.evidence_hash.hex())
        if proof is not None:
            await resolve_from_l1(node, finding, proof, now_ms)
            continue
        repo.update_finding(node.sessions, finding.id, attempts=finding.attempts + 1,
                            submitted_at_ms=finding.submitted_at_ms or now_ms)
        try:
            await node.l1.submit_fraud_proof(finding.kind, finding.evidence)
        except TemporaryError as error:
            repo.update_finding(node.sessions, finding.id, last_error=str(error)[:1000])
            if finding.attempts + 1 >= MAX_ATTEMPTS:
                repo.update_finding(node.sessions, finding.id, status="failed")
            raise
        except RemoteRejected as error:
            if error.error == "DuplicateEvidence":
                proof = await node.l1.get_fraud_proof_by_evidence(finding.evidence_hash)
                if proof is not None:
                    await resolve_from_l1(node, finding, proof, now_ms)
                    continue
                status = "duplicate"      # the same offence, proven by other evidence
            elif error.error == "InsufficientFunds":
                status = "pending"        # wait for funds (rewards, transfers)
            else:
                status = "failed"         # UnknownBlock, BlockNotChallengeable, ...
            repo.update_finding(node.sessions, finding.id, status=status,
                                last_error=f"{error.error}: {error.detail}"[:1000],
                                l1_reason=error.detail[:1000], resolved_at_ms=now_ms)
            continue
        proof = await node.l1.get_fraud_proof_by_evidence(finding.evidence_hash)
        if proof is not None:
            await resolve_from_l1(node, finding, proof, now_ms)


async def report_verified(node: RangerNode, now_ms: int) -> None:
    pending = repo.get_pending_reports(node.sessions, node.settings.report_batch)
    if not pending:
        return
    accepted = {}
    for record in pending:
        block = repo.get_block(node.sessions, record.number)
        if block is not None and block.hash == record.block_hash:
            accepted[record.block_hash] = record
        else:
            repo.set_report_status(node.sessions, [record.block_hash], "skipped", now_ms)
    hashes = list(accepted)
    if not hashes:
        return
    try:
        result = await node.l1.report_verified(hashes)
    except RemoteRejected as error:
        if error.error == "UnknownBlock":
            match = _HASH_IN_DETAIL.search(error.detail)
            if match:
                repo.set_report_status(node.sessions, [bytes.fromhex(match.group(1))], "skipped",
                                       now_ms)
                return
        raise
    repo.set_report_status(node.sessions, hashes, "reported", now_ms)
    node.metrics.blocks_reported.inc(len(hashes))
    log.debug("%s: reported %d verified blocks (%s recorded)", node.settings.name, len(hashes),
              result.get("recorded"))


async def tick(node: RangerNode, now_ms: int) -> None:
    for step in (ensure_registered_step, submit_findings, report_verified_step):
        try:
            await step(node, now_ms)
        except RemoteRejected as error:
            # L1's definite "no" to one call: logged, the other steps still run.
            node.last_error = str(error)
            log.warning("%s: %s refused by L1: %s", node.settings.name, step.__name__, error)


async def ensure_registered_step(node: RangerNode, now_ms: int) -> None:
    await ensure_registered(node)


async def report_verified_step(node: RangerNode, now_ms: int) -> None:
    if node.registered:
        await report_verified(node, now_ms)


async def run(node: RangerNode) -> None:
    await run_loop("reporter", lambda now: tick(node, now), node.settings.report_ms, node.clock, log)
