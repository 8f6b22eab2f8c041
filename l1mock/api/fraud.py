"""GET /fraud-proofs, /slashes."""

from __future__ import annotations

from fastapi import APIRouter, Query

from ..errors import NotFound
from ..schemas import ErrorResponse, FraudProofResponse, SlashResponse
from .common import page
from .deps import NodeDep
from .views import fraud_proof_view, slash_view

router = APIRouter(tags=["fraud proofs"])
NOT_FOUND = {404: {"model": ErrorResponse}}


@router.get("/fraud-proofs", response_model=list[FraudProofResponse])
def list_fraud_proofs(node: NodeDep, start: int | None = Query(None, alias="from", ge=0),
                      limit: int = Query(100, ge=1, le=1000)) -> list[FraudProofResponse]:
    proofs = node.contract.fraud_proofs
    return [fraud_proof_view(proofs[i]) for i in page(len(proofs), start, limit, True)]


@router.get("/fraud-proofs/{proof_id}", response_model=FraudProofResponse, responses=NOT_FOUND)
def get_fraud_proof(proof_id: int, node: NodeDep) -> FraudProofResponse:
    proofs = node.contract.fraud_proofs
    if not 0 <= proof_id < len(proofs):
        raise NotFound(f"no fraud proof {proof_id}")
    return fraud_proof_view(proofs[proof_id])


@router.get("/slashes", response_model=list[SlashResponse])
def list_slashes(node: NodeDep, start: int | None = Query(None, alias="from", ge=0),
                 limit: int = Query(100, ge=1, le=1000)) -> list[SlashResponse]:
    slashes = node.contract.slashes
    return [slash_view(slashes[i]) for i in page(len(slashes), start, limit, True)]


@router.get("/slashes/{slash_id}", response_model=SlashResponse, responses=NOT_FOUND)
def get_slash(slash_id: int, node: NodeDep) -> SlashResponse:
    slashes = node.contract.slashes
    if not 0 <= slash_id < len(slashes):
        raise NotFound(f"no slash {slash_id}")
    return slash_view(slashes[slash_id])
