"""Restart on the same database (SQLite and PostgreSQL): every stake, batch, queue item,
slash, event and nonce is intact, and the chain goes on from there."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from l1mock.app import create_app
from nodekit.db import drop_postgres_test_schema, postgres_test_url
from nodekit.loop import FakeClock

from .conftest import make_settings
from .helpers import ACCOUNTS, NODE_KEYS, L1_START_MS, L1Client, amount, equivocation_evidence, hx

READS = ("/status", "/sequencers", "/rangers", "/epochs", "/batches", "/queue", "/fraud-proofs",
         "/slashes")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'l1-restart.sqlite3'}"
        return
    url = postgres_test_url("seqnet_l1")
    if url is None:
        pytest.skip("no PostgreSQL server answers at 127.0.0.1:5432 (database test, trust auth)")
    try:
        yield url
    finally:
        drop_postgres_test_schema(url)


def snapshot(l1: L1Client) -> dict:
    state = {path: l1.get(path) for path in READS}
    state["blocks"] = l1.get("/blocks", **{"from": 0})
    state["events"] = l1.get("/events", after=0, limit=1000)
    state["accounts"] = [l1.get(f"/accounts/{hx(a.address)}") for a in ACCOUNTS]
    state["epochs"] = [l1.get(f"/epochs/{e}") for e in sorted(l1.contract.snapshots)]
    return state


def open_client(tmp_path, params, database_url):
    settings = make_settings(tmp_path, params, database_url=database_url)
    return TestClient(create_app(settings, clock=FakeClock(L1_START_MS)))


def test_restart_keeps_everything(tmp_path, params, database_url):
    with open_client(tmp_path, params, database_url) as client:
        l1 = L1Client(client, params)
        chain = l1.start_chain()
        l1.call(7, "delegate", sequencer=hx(NODE_KEYS[1].public), amount=amount(5_000))
        l1.call(7, "undelegate", sequencer=hx(NODE_KEYS[1].public), amount=amount(1_000))
        l1.call(6, "register_ranger", node_key=hx(NODE_KEYS[6].public), bond=amount(1_000))
        l1.call(8, "deposit", to=hx(ACCOUNTS[8].address), amount=amount(3))
        blocks = [chain.build() for _ in range(3)]
        l1.submit(0, *blocks)
        l1.call(6, "report_verified", block_hashes=[hx(b.hash) for b in blocks])
        l1.mine(l1.params.challenge_window_l1_blocks)
        extra = chain.build(append=False)
        l1.call(9, "submit_fraud_proof", kind="equivocation",
                evidence=hx(equivocation_evidence(chain, extra)))
        before = snapshot(l1)
        nonces = dict(l1.contract.nonces)
    assert before["/slashes"] and before["/queue"] and before["/batches"]

    with open_client(tmp_path, params, database_url) as client:
        l1 = L1Client(client, params)
        assert snapshot(l1) == before
        assert l1.contract.nonces == nonces
        # and it goes on: a replayed call is still refused, new calls and blocks work
        l1.call(0, "transfer", to=hx(ACCOUNTS[1].address), amount="1")
        l1.mine()
        assert l1.get("/status")["l1_head"] == before["/status"]["l1_head"] + 1


def test_database_of_another_chain_is_refused(tmp_path, params):
    url = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    with open_client(tmp_path, params, url):
        pass
    with pytest.raises(RuntimeError, match="another chain"):
        open_client(tmp_path, params.replace(chain_id=params.chain_id + 1), url)
