"""GET /reports, /reports/{id}: each detection with its evidence, L1's verdict, the slashed
amount and this ranger's reward (or lost bond)."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query

from nodekit.db import MAX_DB_INT

from .. import repo
from ..models import FindingRecord
from ..schemas import FindingResponse
from .deps import NodeDep
from .errors import NotFound

router = APIRouter(tags=["reports"])


def finding_view(record: FindingRecord, with_evidence: bool = False) -> FindingResponse:
    verdict = record.status if record.status in ("accepted", "rejected") else None
    return FindingResponse(
        id=record.id, kind=record.kind, status=record.status, offender=record.offender,
        slot=record.slot, block_number=record.block_number, block_hash=record.block_hash,
        reason=record.reason, source=record.source, evidence_hash=record.evidence_hash,
        evidence_size=len(record.evidence), evidence=record.evidence if with_evidence else None,
        detected_at_ms=record.detected_at_ms, block_timestamp_ms=record.block_timestamp_ms,
        submitted_at_ms=record.submitted_at_ms, resolved_at_ms=record.resolved_at_ms,
        attempts=record.attempts, last_error=record.last_error, l1_proof_id=record.l1_proof_id,
        l1_verdict=verdict, l1_reason=record.l1_reason, l1_block=record.l1_block,
        slash_id=record.slash_id, slashed=record.slashed_wei, reward=record.reward_wei,
        bond_lost=record.bond_lost_wei)


@router.get("/reports", response_model=list[FindingResponse])
def list_reports(node: NodeDep, limit: int = Query(100, ge=1, le=1000),
                 kind: str | None = Query(None, description="Only this fraud-proof kind"),
                 evidence: bool = Query(False, description="Include the RLP evidence")
                 ) -> list[FindingResponse]:
    """Detections, newest first."""
    return [finding_view(f, evidence) for f in repo.list_findings(node.sessions, limit, kind)]


@router.get("/reports/{finding_id}", response_model=FindingResponse)
def get_report(node: NodeDep, finding_id: int = Path(ge=0, le=MAX_DB_INT)) -> FindingResponse:
    record = repo.get_finding(node.sessions, finding_id)
    if record is None:
        raise NotFound(f"no report {finding_id}")
    return finding_view(record, with_evidence=True)
