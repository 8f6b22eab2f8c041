"""A populated in-process sequencer network for the robustness tests: tests/sequencer/helpers'
four nodes and fake L1, driven on one event loop in a background thread (anyio's blocking
portal), so synchronous hypothesis tests can send requests to the apps in between.

The chain holds blocks with transfers, a withdrawal and a forced transaction; slot
`OPEN_SLOT` is open at its leader (a receipted transaction in its session), and the clock
stands still, so the session stays open for the whole test.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal

from protocol.accounts import dev_accounts
from protocol.blocks import QUEUE_FORCED_TX, Attestation, QueueItem
from protocol.constants import BRIDGE_ADDRESS
from protocol.encoding import encode_attestation, encode_block

from ..sequencer.helpers import Net, make_net, transfer
from .harness import BASE_URL

OPEN_SLOT = 4
ADMIN_TOKEN = "robustness-admin-token"
ACCOUNTS = dev_accounts(10)


class PortalClient:
    """A synchronous client for an ASGI app living on the portal's event loop."""

    def __init__(self, portal: BlockingPortal, app: Any) -> None:
        self.portal = portal
        self.app = app
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.portal.call(functools.partial(self.client.request, method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def close(self) -> None:
        self.portal.call(self.client.aclose)


@dataclass
class SequencerNet:
    portal: BlockingPortal
    net: Net
    leader: Any
    """The node leading OPEN_SLOT, with an open session."""
    follower: Any
    """Another node: it forwards what it is sent to the leader."""
    leader_client: PortalClient
    follower_client: PortalClient
    tx_hashes: list[bytes]
    """Transactions on the chain (a withdrawal among them) and one receipted in the session."""
    signed_raws: list[bytes]
    """Encoded blocks of the chain and attestations to them, as peers send them."""

    @property
    def params(self):
        return self.net.params

    def call(self, fn, *args):
        return self.portal.call(fn, *args)


async def _populate(net: Net) -> list[bytes]:
    params = net.params
    forced = transfer(params, 3, 0, value=5_000, to=BRIDGE_ADDRESS)
    net.l1.queue = [QueueItem(index=0, kind=QUEUE_FORCED_TX, l1_block=1,
                              sender=ACCOUNTS[3].address, raw_tx=forced)]
    await net.run_slot(1)
    start = params.genesis_time_ms + 2 * params.slot_ms
    await net.tick_all(start + params.parent_wait_ms)
    leader = await net.leader(2)
    raws = [transfer(params, 0, 0, value=1_000), transfer(params, 1, 0, value=7_000,
                                                          to=BRIDGE_ADDRESS)]
    async with httpx.AsyncClient(transport=net.router,
                                 base_url=f"http://{leader.settings.name}") as client:
        for raw in raws:
            response = await client.post("/txs", json={"raw": "0x" + raw.hex()})
            assert response.status_code == 200, response.text
    await net.tick_all(start + params.slot_ms - 5)
    await net.run_slot(3)
    start = params.genesis_time_ms + OPEN_SLOT * params.slot_ms
    await net.tick_all(start + params.parent_wait_ms)
    leader = await net.leader(OPEN_SLOT)
    pending = transfer(params, 2, 0, value=3_000)
    async with httpx.AsyncClient(transport=net.router,
                                 base_url=f"http://{leader.settings.name}") as client:
        response = await client.post("/txs", json={"raw": "0x" + pending.hex()})
        assert response.status_code == 200, response.text
    await net.drain()
    from protocol.hashing import keccak256
    return [keccak256(raw) for raw in (forced, *raws, pending)]


def _signed_raws(node) -> list[bytes]:
    store = node.store
    raws = [encode_block(store.at(n).block) for n in range(1, store.head.number + 1)]
    for block_hash, signatures in node.attestations.items():
        entry = store.get(block_hash)
        for attester, signature in signatures.items():
            raws.append(encode_attestation(Attestation(block_hash, entry.number, entry.slot,
                                                       attester, signature)))
    return raws


@contextmanager
def open_sequencer_net(tmp_path) -> Iterator[SequencerNet]:
    with start_blocking_portal() as portal:
        settings = {i: {"admin_token": ADMIN_TOKEN} for i in range(4)}
        net = portal.call(functools.partial(make_net, tmp_path, settings_changes=settings))
        try:
            tx_hashes = portal.call(_populate, net)
            leader = portal.call(net.leader, OPEN_SLOT)
            assert leader.session is not None and leader.session.open
            follower = next(node for node in net.nodes if node is not leader)
            apps = {app.state.node: app for app in net.apps}
            leader_client = PortalClient(portal, apps[leader])
            follower_client = PortalClient(portal, apps[follower])
            yield SequencerNet(portal, net, leader, follower, leader_client, follower_client,
                               tx_hashes, _signed_raws(leader))
            leader_client.close()
            follower_client.close()
        finally:
            portal.call(net.close)


def sequencer_state(node) -> dict[str, Any]:
    """What a rejected request must not change on a node: chain, pool, receipts, the open
    session and its pending state, balances and nonces of the funded accounts, faults,
    votes, attestations and observations."""
    head = node.store.head
    session = node.session
    addresses = [account.address for account in ACCOUNTS] + [BRIDGE_ADDRESS]
    return {
        "canonical": tuple(node.store.canonical),
        "blocks": frozenset(node.store.entries),
        "mempool": frozenset(node.mempool.entries),
        "receipts": frozenset(node.receipts),
        "relayed": frozenset(node.relayed),
        "session": None if session is None else
        (session.slot, session.open, tuple(tx.hash for tx in session.txs), session.prefix,
         tuple(session.pending_account(a) for a in addresses)),
        "accounts": tuple(head.state.get_account(a) for a in addresses),
        "faults": frozenset(node.faults),
        "votes": dict(node.votes),
        "attestations": {h: dict(v) for h, v in node.attestations.items()},
        "pending_attestations": {h: len(v) for h, v in node.pending_attestations.items()},
        "invalid_blocks": dict(node.invalid_blocks),
        "observations": node.observation_id,
        "evidence": len(node.evidence),
        "gossip_buffer": len(node.gossip_buffer),
    }


def assert_unchanged(before: dict, after: dict, what: str) -> None:
    changed = {name: (before[name], after.get(name)) for name in before
               if before[name] != after.get(name)}
    assert not changed, f"{what} changed the node's state: {sorted(changed)}\n" + \
        "\n".join(f"  {name}: {old!r:.300} -> {new!r:.300}" for name, (old, new) in changed.items())

