"""GET /health, /status, /stats, /verifications."""

from __future__ import annotations

from fastapi import APIRouter, Query

from nodekit.errors import ServiceError

from .. import repo
from ..schemas import HealthResponse, StatsResponse, StatusResponse, VerificationResponse
from .deps import NodeDep

router = APIRouter(tags=["status"])


@router.get("/health", response_model=HealthResponse)
def health() -> HealthResponse:
    return HealthResponse()


@router.get("/status", response_model=StatusResponse)
def get_status(node: NodeDep) -> StatusResponse:
    """Who this ranger is, how far it follows L1, and whether it waits for a rollback."""
    head = repo.get_head_block(node.sessions)
    status = node.l1_status or {}
    return StatusResponse(
        name=node.settings.name, node_key=node.node_key.public, operator=node.operator_address,
        registered=node.registered, sample_rate=node.settings.sample_rate,
        l1_url=node.settings.l1_url,
        l1_accepted_head=status.get("accepted", {}).get("number"), l1_head=status.get("l1_head"),
        stored_head=head.number if head else 0, executed_head=node.chain.executed,
        halted_at=node.chain.halted_at,
        pending_findings=len(repo.get_findings_by_status(node.sessions, "pending")),
        last_error=node.last_error)


@router.get("/stats", response_model=StatsResponse)
async def get_stats(node: NodeDep) -> StatsResponse:
    """Blocks verified, the sampled rate, faults found, rewards (fraud and verification)."""
    stats = repo.compute_stats(node.sessions)
    rewards = verified = None
    try:
        mine = "0x" + node.node_key.public.hex()
        for ranger in await node.l1.get_rangers():
            if ranger["node_key"] == mine:
                rewards, verified = int(ranger["rewards"]), int(ranger["verified"])
                node.metrics.rewards.set(rewards)
    except ServiceError:
        pass
    seen = stats["blocks_seen"]
    return StatsResponse(
        blocks_seen=seen, blocks_verified=stats["blocks_verified"],
        sampled_rate=stats["blocks_verified"] / seen if seen else 0.0,
        sample_rate=node.settings.sample_rate, invalid_blocks=stats["invalid_blocks"],
        blocks_reported=stats["blocks_reported"],
        faults_found=sum(stats["findings_by_kind"].values()),
        findings_by_kind=stats["findings_by_kind"], findings_by_status=stats["findings_by_status"],
        fraud_rewards=stats["fraud_rewards_wei"], bonds_lost=stats["bonds_lost_wei"],
        verification_rewards=rewards, l1_verified=verified, receipts=stats["receipts"],
        observations=repo.count_observations(node.sessions))


@router.get("/verifications", response_model=list[VerificationResponse])
def list_verifications(node: NodeDep, limit: int = Query(50, ge=1, le=1000)) -> list:
    """The newest re-executions, newest first."""
    return [VerificationResponse(block_hash=v.block_hash, number=v.number, slot=v.slot,
                                 producer=v.producer, sampled=v.sampled, valid=v.valid,
                                 reason=v.reason, verified_at_ms=v.verified_at_ms,
                                 report_status=v.report_status)
            for v in repo.list_verifications(node.sessions, limit)]
