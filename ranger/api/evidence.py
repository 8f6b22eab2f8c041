"""What sequencers forward: POST /observations (signed headers, full blocks, attestations they
saw) and POST /evidence/equivocation (two conflicting signed objects). Plus the devnet-only
POST /admin/fraud-proofs, which posts evidence to L1 without the local check.

Spec: docs/spec/ranger.md#observations
"""

from __future__ import annotations

from fastapi import APIRouter, Header

from nodekit.auth import bearer_matches
from nodekit.db import MAX_DB_INT
from nodekit.errors import RemoteRejected
from protocol.encoding import decode_attestation, decode_block, decode_signed_header
from protocol.exceptions import InvalidEncoding, InvalidProof, ProtocolError
from protocol.fraud import compute_evidence_hash, decode_evidence, evidence_offender
from protocol.fraud import evidence_block_number

from .. import repo
from ..detect import SignedObject, check_equivocation, signer_of, slot_of
from ..models import FindingRecord
from ..node import fits_database
from ..schemas import (
    AdminFraudProofRequest,
    AdminFraudProofResponse,
    EquivocationRequest,
    FindingResponse,
    ObservationsRequest,
    ObservationsResponse,
)
from .deps import NodeDep
from .errors import AdminDisabled, AdminUnauthorized
from .reports import finding_view

router = APIRouter(tags=["evidence"])


def decode_signed_object(raw: bytes) -> SignedObject:
    """A signed header (encode_signed_header) or an attestation (encode_attestation)."""
    try:
        return decode_signed_header(raw)
    except ProtocolError:
        pass
    try:
        return decode_attestation(raw)
    except ProtocolError:
        raise InvalidEncoding("neither a signed header nor an attestation") from None


@router.post("/observations", response_model=ObservationsResponse)
def post_observations(body: ObservationsRequest, node: NodeDep) -> ObservationsResponse:
    """Sequencers forward what they see from other sequencers; two different objects signed
    by one key for one slot are equivocation, headers skipping due queue items censorship."""
    accepted = ignored = 0
    findings: list[int] = []
    source = body.source or "sequencer"

    def take(obj, block=None) -> None:
        nonlocal accepted, ignored
        before = repo.count_observations(node.sessions)
        found = node.observe(obj, source, block)
        if repo.count_observations(node.sessions) > before:
            accepted += 1
        else:
            ignored += 1
        findings.extend(f.id for f in found)

    for raw in body.blocks:
        try:
            block = decode_block(raw)
        except ProtocolError:
            ignored += 1
            continue
        take((block.header, block.signature), block)
    for raw in body.headers:
        try:
            take(decode_signed_header(raw))
        except ProtocolError:
            ignored += 1
    for raw in body.attestations:
        try:
            take(decode_attestation(raw))
        except ProtocolError:
            ignored += 1
    return ObservationsResponse(accepted=accepted, ignored=ignored, findings=findings)


@router.post("/evidence/equivocation", response_model=FindingResponse,
             responses={400: {"description": "InvalidProof: not an equivocation"}})
def post_equivocation(body: EquivocationRequest, node: NodeDep) -> FindingResponse:
    """Two signed headers (or two attestations) by one key for one slot with different
    hashes. The ranger checks them as L1 will and submits the proof."""
    first = decode_signed_object(body.first)
    second = decode_signed_object(body.second)
    for obj in (first, second):
        if not node.is_registered(signer_of(obj)):
            raise InvalidProof(f"not an equivocation: 0x{signer_of(obj).hex()[:16]}.. is not a "
                               f"sequencer registered on L1")
    finding = check_equivocation(first, second, node.params)
    if finding is not None and not (fits_database(first) and fits_database(second)):
        raise InvalidProof(f"not an equivocation: slot {slot_of(first)} lies beyond any real "
                           f"slot (at most {MAX_DB_INT})")
    if finding is None:
        raise InvalidProof("not an equivocation: the objects must be of one kind, signed by one "
                           "key for one slot, name different blocks, and verify")
    node.observe(first, body.source or "evidence")
    node.observe(second, body.source or "evidence")
    record, _ = node.store_finding(finding, "observation", None,
                                   first[0].timestamp_ms if isinstance(first, tuple) else None)
    return finding_view(record)


@router.post("/admin/fraud-proofs", response_model=AdminFraudProofResponse, responses={
    400: {"description": "Evidence that does not decode"},
    401: {"description": "AdminUnauthorized: admin_token is set and the bearer token differs"},
    403: {"description": "AdminDisabled: not a devnet, or admin_enabled is off"},
    502: {"description": "L1 refused the proof (its reason)"},
    503: {"description": "L1 unreachable"}})
async def post_admin_fraud_proof(body: AdminFraudProofRequest, node: NodeDep,
                                 authorization: str | None = Header(None)
                                 ) -> AdminFraudProofResponse:
    """Devnet debugging: submit `evidence` to L1 at once, skipping the local check (a false
    accusation is refused by L1 and costs the bond). Recorded as a report of source admin."""
    if not (node.settings.admin_enabled and node.params.is_devnet):
        raise AdminDisabled("admin routes are disabled")
    token = node.settings.admin_token
    if token and not bearer_matches(authorization, token):
        raise AdminUnauthorized("bad or missing admin token (Authorization: Bearer ...)")
    evidence = decode_evidence(body.kind, body.evidence)
    block_number = evidence_block_number(evidence)
    slot = (evidence.block.header.slot if hasattr(evidence, "block")
            else evidence.header.slot if hasattr(evidence, "header") else slot_of(evidence.first))
    record, _ = repo.add_finding(node.sessions, FindingRecord(
        kind=body.kind, evidence_hash=compute_evidence_hash(body.kind, body.evidence),
        evidence=body.evidence, offender=evidence_offender(evidence), slot=slot,
        block_number=block_number, block_hash=None, reason="submitted by an operator (admin)",
        source="admin", detected_at_ms=node.now_ms(), status="submitting", attempts=1,
        last_error="", l1_reason="", slashed_wei=0, reward_wei=0, bond_lost_wei=0,
        submitted_at_ms=node.now_ms()))
    try:
        result = await node.l1.submit_fraud_proof(body.kind, body.evidence)
    except RemoteRejected as error:
        repo.update_finding(node.sessions, record.id, status="failed",
                            last_error=f"{error.error}: {error.detail}"[:1000])
        raise
    # the reporter records L1's verdict (and the slash or the lost bond) on its next tick
    repo.update_finding(node.sessions, record.id, status="pending")
    return AdminFraudProofResponse(finding_id=record.id, result=result)
