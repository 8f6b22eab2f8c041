"""GET/PUT /admin/faults: toggle devnet fault flags at runtime (bearer token; devnet only)."""

from __future__ import annotations

from fastapi import APIRouter, Header, HTTPException

from nodekit.auth import bearer_matches

from ..faults import validate_faults
from ..schemas import FaultsRequest
from .deps import NodeDep

router = APIRouter(prefix="/admin", tags=["admin"], responses={
    401: {"description": "Missing or wrong bearer token"},
    404: {"description": "Admin routes disabled (no --admin-token)"}})


def _check(node, authorization: str | None) -> None:
    token = node.settings.admin_token
    if not token:
        raise HTTPException(404, "admin routes are disabled (no --admin-token)")
    if not bearer_matches(authorization, token):
        raise HTTPException(401, "bad admin token")


@router.get("/faults")
def get_faults(node: NodeDep, authorization: str | None = Header(None)):
    _check(node, authorization)
    return {"faults": sorted(node.faults)}


@router.put("/faults")
def put_faults(request: FaultsRequest, node: NodeDep, authorization: str | None = Header(None)):
    """Replace the fault flags (refused unless the chain is a devnet)."""
    _check(node, authorization)
    validate_faults(request.faults, node.params.is_devnet)
    node.faults = set(request.faults)
    node.log.warning("fault flags set to %s", sorted(node.faults) or "none")
    return {"faults": sorted(node.faults)}
