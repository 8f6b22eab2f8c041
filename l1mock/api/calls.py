"""POST /calls: the one signed, state-changing endpoint, and one thin route per method that
takes the same body (for OpenAPI readability).

Spec: docs/spec/l1.md#calls
"""

from __future__ import annotations

from fastapi import APIRouter

from ..core.contract import METHODS
from ..errors import InvalidCall
from ..schemas import CallRequest, CallResponse, ErrorResponse
from .deps import NodeDep

router = APIRouter(tags=["calls"])

ERRORS = {400: {"model": ErrorResponse, "description": "Refused: nothing changed"},
          413: {"model": ErrorResponse, "description": "Body too large"},
          422: {"model": ErrorResponse, "description": "Body of the wrong shape"}}

METHOD_DOCS = {
    "transfer": "args: to (address), amount (wei). Moves L1 tokens.",
    "register_sequencer": "args: node_key (32-byte Ed25519), endpoint (http URL), stake (wei, "
                          ">= min_sequencer_stake_wei), commission_bps (0..10000). Locks the "
                          "self-stake; one sequencer per operator address.",
    "update_sequencer": "args: endpoint and/or commission_bps. Operator only.",
    "delegate": "args: sequencer (node key or operator address), amount (wei). Not to a jailed "
                "sequencer.",
    "undelegate": "args: sequencer, amount. The amount unbonds for unbonding_l1_blocks and stays "
                  "slashable until withdrawn.",
    "withdraw": "no args. Pays every matured unbonding entry of the sender.",
    "claim_rewards": "no args. Moves the sender's pending rewards to its balance.",
    "unjail": "no args. Operator only, unjail_delay_l1_blocks after the jailing.",
    "register_ranger": "args: node_key, bond (wei, >= min_ranger_bond_wei), endpoint (optional).",
    "unregister_ranger": "no args. The bond unbonds like stake.",
    "report_verified": "args: block_hashes (1..1024 hashes of accepted blocks). Ranger only; "
                       "the ranger shares ranger_reward of each block that finalizes.",
    "submit_batch": "args: blocks (list of 0x RLP full blocks, consecutive numbers). Accepts "
                    "the blocks that extend the accepted chain after checking leaders, "
                    "signatures, parent QCs, continuity and queue consumption; blocks already "
                    "accepted are skipped (idempotent).",
    "deposit": "args: to (L2 address), amount (wei). Locks L1 tokens in the bridge and enqueues "
               "a deposit.",
    "force_tx": "args: raw_tx (0x signed L2 transaction). Enqueues it for forced inclusion.",
    "claim_withdrawal": "args: block_number, sender, amount, index, proof (list of 0x trie "
                        "nodes). Pays an L2 withdrawal of a finalized block.",
    "submit_fraud_proof": "args: kind (invalid_state | receipt_violation | equivocation | "
                          "censorship), evidence (0x RLP). Posts fraud_bond_wei: a proven fraud "
                          "slashes, jails and pays the reporter; a failed proof loses the bond "
                          "(result.status = rejected).",
}


@router.post("/calls", response_model=CallResponse, responses=ERRORS,
             summary="Apply a signed call (any method)")
async def post_call(body: CallRequest, node: NodeDep) -> dict:
    """Apply one call signed with `protocol.l1calls.sign_l1_call`. The nonce must be the
    sender's next L1 nonce; a refused call changes nothing and does not use the nonce."""
    return node.submit_call(body.model_dump())


def _method_route(method: str):
    async def route(body: CallRequest, node: NodeDep) -> dict:
        if body.method != method:
            raise InvalidCall(f"body.method {body.method[:64]!r} does not match the route {method}")
        return node.submit_call(body.model_dump())
    route.__name__ = f"call_{method}"
    return route


for _method in METHODS:
    router.add_api_route(f"/calls/{_method}", _method_route(_method), methods=["POST"],
                         response_model=CallResponse, responses=ERRORS, summary=_method,
                         description=METHOD_DOCS.get(_method, ""))
