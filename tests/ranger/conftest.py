"""A ranger wired to an in-process L1 mock (its real app, over ASGI), with every loop off:
tests drive each job's tick() and the L1's clock themselves."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from l1mock.app import create_app as create_l1_app
from l1mock.settings import L1Settings
from nodekit.loop import FakeClock
from nodekit.settings import write_params_file
from protocol.accounts import dev_accounts
from protocol.blocks import Block
from protocol.chainbuilder import ChainBuilder, devnet_node_key, devnet_operators
from protocol.constants import TOKEN
from protocol.encoding import encode_block
from protocol.genesis import make_devnet_genesis
from protocol.l1calls import encode_l1_call, sign_l1_call
from protocol.params import devnet_params
from ranger.app import create_app
from ranger.core import follower, reporter, verifier, watchtower
from ranger.l1client import L1Client
from ranger.node import RangerNode
from ranger.settings import RangerSettings

GENESIS_MS = 1_700_000_000_000
L1_START_MS = GENESIS_MS - 10_000
ACCOUNTS = dev_accounts(10)
STAKES = (35_000, 30_000, 25_000, 20_000)
RANGER_KEY = devnet_node_key(100)
RANGER_OPERATOR = ACCOUNTS[5]
JOBS = (follower, verifier, watchtower, reporter)


def make_params(**changes: Any):
    base = dict(genesis_time_ms=GENESIS_MS, slot_ms=1000, epoch_slots=8, lookahead_slots=2,
                l1_block_ms=1000, challenge_window_l1_blocks=3, unbonding_l1_blocks=4,
                unjail_delay_l1_blocks=2, force_delay_l1_blocks=2, downtime_window_slots=10,
                downtime_max_missed=5)
    base.update(changes)
    return devnet_params(**base)


def hx(data: bytes) -> str:
    return "0x" + data.hex()


class FlakyTransport(httpx.AsyncBaseTransport):
    """Fails the next `failures` requests whose path starts with `prefix` (connection refused)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.failures = 0
        self.prefix = "/"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.failures and request.url.path.startswith(self.prefix):
            self.failures -= 1
            raise httpx.ConnectError("injected failure", request=request)
        return await self.inner.handle_async_request(request)


class Net:
    """L1 mock + ranger in one process."""

    def __init__(self, tmp_path, params=None, sample_rate: float = 1.0) -> None:
        self.tmp_path = tmp_path
        self.params = params or make_params()
        self.params_file = tmp_path / "params.json"
        write_params_file(self.params_file, self.params)
        l1_settings = L1Settings(data_dir=tmp_path / "l1", params_file=self.params_file,
                                 clock_enabled=False)
        self.l1_app = create_l1_app(l1_settings, clock=FakeClock(L1_START_MS))
        self.l1 = TestClient(self.l1_app)
        self.l1.__enter__()
        self.l1_node = self.l1_app.state.node
        self.transport = FlakyTransport(httpx.ASGITransport(app=self.l1_app))
        self.sample_rate = sample_rate
        self.clock = FakeClock(GENESIS_MS)
        self.ranger: TestClient | None = None
        self.start_ranger()

    # --- ranger lifecycle ---
    def ranger_settings(self) -> RangerSettings:
        return RangerSettings(data_dir=self.tmp_path / "ranger", params_file=self.params_file,
                              l1_url="http://l1", node_key_seed=RANGER_KEY.seed.hex(),
                              operator_key=RANGER_OPERATOR.private_key.hex(),
                              sample_rate=self.sample_rate, loops_enabled=False)

    def start_ranger(self) -> None:
        settings = self.ranger_settings()
        l1 = L1Client("http://l1", RANGER_OPERATOR.private_key, self.params.l1_chain_id,
                      transport=self.transport, retries=0)
        self.node = RangerNode(settings, self.clock, l1)
        self.ranger = TestClient(create_app(settings, node=self.node))
        self.ranger.__enter__()

    def stop_ranger(self) -> None:
        self.ranger.__exit__(None, None, None)

    def close(self) -> None:
        self.stop_ranger()
        self.l1.__exit__(None, None, None)

    def tick(self, *jobs, rounds: int = 1) -> None:
        for _ in range(rounds):
            for job in jobs or JOBS:
                tick = job if callable(job) else job.tick
                self.ranger.portal.call(tick, self.node, self.clock.now_ms())

    # --- L1 ---
    @property
    def contract(self):
        return self.l1_node.contract

    def mine(self, count: int = 1) -> None:
        for _ in range(count):
            assert self.l1_node.tick(self.contract.head_timestamp_ms + self.params.l1_block_ms)

    def mine_until(self, timestamp_ms: int) -> None:
        while self.contract.head_timestamp_ms < timestamp_ms:
            self.mine()

    def get(self, path: str, **params: Any):
        response = self.l1.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def call(self, account, method: str, **args: Any) -> dict:
        nonce = self.contract.get_nonce(account.address)
        call = sign_l1_call(account.private_key, self.params.l1_chain_id, method, nonce, args)
        response = self.l1.post("/calls", json=encode_l1_call(call))
        assert response.status_code == 200, response.text
        return response.json()["result"]

    def start_chain(self) -> ChainBuilder:
        """Register the devnet's sequencers (operators: dev accounts 9, 8, 7, 6) and mine until
        epochs 0 and 1 are snapshotted."""
        keys = [devnet_node_key(i) for i in range(4)]
        for key, operator, stake in zip(keys, devnet_operators(4), STAKES):
            self.call(operator, "register_sequencer", node_key=hx(key.public),
                      endpoint="http://127.0.0.1:1", stake=str(stake * TOKEN), commission_bps=1000)
        self.mine_until(GENESIS_MS + self.params.epoch_ms
                        - self.params.lookahead_slots * self.params.slot_ms)
        return ChainBuilder(self.params, stakes_tokens=STAKES,
                            genesis=make_devnet_genesis(self.params))

    def submit(self, *blocks: Block) -> dict:
        return self.call(ACCOUNTS[0], "submit_batch",
                         blocks=[hx(encode_block(block)) for block in blocks])

    def balance(self, account) -> int:
        return int(self.get(f"/accounts/{hx(account.address)}")["balance"])


@pytest.fixture
def net(tmp_path):
    network = Net(tmp_path)
    yield network
    network.close()


def resign(chain: ChainBuilder, block: Block, **changes: Any) -> Block:
    header = dataclasses.replace(block.header, **changes)
    key = chain.key_of(header.producer)
    return Block(header, key.sign(b"block", chain.params.chain_id, header.hash), block.queue_items,
                 block.transactions)
