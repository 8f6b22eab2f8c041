"""An in-process network of sequencers for tests: each node's app behind httpx.ASGITransport,
peers routed by host name, an in-memory fake L1, and one FakeClock. Jobs are driven by calling
their tick() functions; background broadcasts are awaited with `drain()`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx

from nodekit.loop import FakeClock
from nodekit.settings import write_params_file
from protocol.accounts import dev_accounts
from protocol.blocks import QueueItem
from protocol.chainbuilder import DEVNET_STAKES_TOKENS, devnet_node_key, devnet_operators
from protocol.constants import GWEI, TOKEN
from protocol.encoding import decode_block
from protocol.params import devnet_params
from protocol.schedule import Member, compute_sequencer_set, compute_slot_start_ms
from protocol.transactions import sign_transaction
from sequencer.app import create_app
from sequencer.core import batcher, follower, intake, producer
from sequencer.l1client import L1Block, L1Status, RegisteredSequencer
from sequencer.settings import SequencerSettings

GENESIS_MS = 1_700_000_000_000


class FakeL1:
    """The part of the L1 mock a sequencer reads, in memory."""

    def __init__(self, params, members: list[Member], endpoints: dict[bytes, str]) -> None:
        self.params = params
        self.members = members
        self.endpoints = endpoints
        self.head = 5
        self.queue: list[QueueItem] = []
        self.chain: list[tuple[bytes, bytes]] = []  # (hash, raw) of accepted blocks 1..
        self.genesis_hash = b""
        self.finalized = 0
        self.batches = 0
        self.reachable = True
        self.rangers: list[str] = []
        """Endpoints of the registered rangers."""

    async def aclose(self) -> None:
        pass

    def _check(self) -> None:
        if not self.reachable:
            from nodekit.errors import TemporaryError
            raise TemporaryError("L1 unreachable")

    async def get_status(self) -> L1Status:
        self._check()
        number = len(self.chain)
        head_hash = self.chain[-1][0] if self.chain else self.genesis_hash
        fin_hash = self.chain[self.finalized - 1][0] if self.finalized else self.genesis_hash
        return L1Status(self.head, number, head_hash, self.finalized, fin_hash, len(self.queue))

    async def get_sequencers(self):
        self._check()
        return [RegisteredSequencer(m.node_key, m.operator, self.endpoints[m.node_key], None,
                                    "active") for m in self.members]

    async def get_ranger_endpoints(self) -> list[str]:
        self._check()
        return list(self.rangers)

    async def get_sequencer_set(self, epoch: int):
        self._check()
        return compute_sequencer_set(epoch, self.members, self.params)

    async def get_queue(self, start: int, limit: int = 1000):
        self._check()
        return [item for item in self.queue if item.index >= start][:limit]

    async def get_blocks(self, start: int, limit: int = 64):
        self._check()
        out = []
        for number in range(max(1, start), min(len(self.chain), start + limit - 1) + 1):
            block_hash, raw = self.chain[number - 1]
            out.append(L1Block(number, block_hash, raw, "accepted"))
        return out

    async def submit_batch(self, raws: list[bytes]):
        self._check()
        accepted = 0
        for raw in raws:
            block = decode_block(raw)
            if block.number <= len(self.chain):
                continue
            assert block.number == len(self.chain) + 1
            self.chain.append((block.hash, raw))
            accepted += 1
        self.batches += 1
        return {"accepted": accepted}

    async def register_sequencer(self, *args, **kwargs):
        return {}


class Router(httpx.AsyncBaseTransport):
    """Routes a request to the app whose host name it names."""

    def __init__(self) -> None:
        self.apps: dict[str, httpx.ASGITransport] = {}
        self.down: set[str] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if host in self.down or host not in self.apps:
            raise httpx.ConnectError(f"{host} is down", request=request)
        return await self.apps[host].handle_async_request(request)


@dataclass
class Net:
    params: object
    clock: FakeClock
    l1: FakeL1
    router: Router
    apps: list = field(default_factory=list)
    clients: list = field(default_factory=list)

    @property
    def nodes(self):
        return [app.state.node for app in self.apps]

    def node_by_key(self, key: bytes):
        return next(n for n in self.nodes if n.key.public == key)

    async def leader(self, slot: int):
        return self.node_by_key(await self.nodes[0].leader_of(slot))

    async def drain(self) -> None:
        for _ in range(5):
            for node in self.nodes:
                await node.drain()
            await asyncio.sleep(0)

    def live(self):
        return [n for n in self.nodes if n.settings.name not in self.router.down]

    async def tick_all(self, now_ms: int) -> None:
        await self.clock.set_ms(max(now_ms, self.clock.now_ms()), settle=1)
        for node in self.live():
            await producer.tick(node, self.clock.now_ms())
        await self.drain()
        for node in self.live():
            await intake.gossip_tick(node, self.clock.now_ms())
        await self.drain()

    async def run_slot(self, slot: int) -> None:
        """Drive every node through `slot`: open (after the parent wait), seal at the end."""
        start = compute_slot_start_ms(slot, self.params)
        await self.tick_all(start + self.params.parent_wait_ms)
        await self.tick_all(start + self.params.slot_ms - 5)

    async def follow_l1(self) -> None:
        for node in self.live():
            await follower.tick(node, self.clock.now_ms())

    async def batch(self) -> None:
        for node in self.live():
            await batcher.tick(node, self.clock.now_ms())

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()
        for node in self.nodes:
            await node.close()


def make_settings(tmp_path, params, index: int, **changes) -> SequencerSettings:
    params_file = tmp_path / "params.json"
    if not params_file.exists():
        write_params_file(params_file, params)
    operator = devnet_operators(4)[index]
    values = dict(name=f"seq{index + 1}", data_dir=tmp_path / f"seq{index + 1}",
                  params_file=params_file, l1_url="http://l1.test",
                  public_url=f"http://seq{index + 1}", node_key_seed=devnet_node_key(index).seed.hex(),
                  operator_key=operator.private_key.hex(),
                  stake_tokens=DEVNET_STAKES_TOKENS[index], loops_enabled=False)
    values.update(changes)
    return SequencerSettings(**values)


async def make_net(tmp_path, count: int = 4, settings_changes: dict[int, dict] | None = None,
                   **params_changes) -> Net:
    params = devnet_params(genesis_time_ms=GENESIS_MS, **params_changes)
    operators = devnet_operators(count)
    members = [Member(devnet_node_key(i).public, operators[i].address,
                      DEVNET_STAKES_TOKENS[i] * TOKEN) for i in range(count)]
    endpoints = {devnet_node_key(i).public: f"http://seq{i + 1}" for i in range(count)}
    l1 = FakeL1(params, members, endpoints)
    clock = FakeClock(GENESIS_MS - 2000)
    router = Router()
    net = Net(params, clock, l1, router)
    for i in range(count):
        await add_node(net, tmp_path, i, **(settings_changes or {}).get(i, {}))
    l1.genesis_hash = net.nodes[0].genesis_block.hash
    for node in net.nodes:
        await node.refresh_peers(force=True)
    return net


async def add_node(net: Net, tmp_path, index: int, **changes):
    settings = make_settings(tmp_path, net.params, index, **changes)
    app = create_app(settings, net.clock, peer_transport=net.router)
    app.state.node.l1 = net.l1
    net.router.apps[settings.name] = httpx.ASGITransport(app=app)
    net.router.down.discard(settings.name)
    position = index if index < len(net.apps) else None
    if position is not None:
        net.apps[position] = app
    else:
        net.apps.append(app)
    client = httpx.AsyncClient(transport=net.router, base_url=f"http://{settings.name}")
    net.clients.append(client)
    return app


def client_of(net: Net, name: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=net.router, base_url=f"http://{name}")


def transfer(params, sender_index: int, nonce: int, value: int = 10**15, to: bytes | None = None,
             **changes) -> bytes:
    accounts = dev_accounts(10)
    return sign_transaction(accounts[sender_index].private_key, chain_id=params.chain_id,
                            nonce=nonce, to=to or accounts[(sender_index + 1) % 10].address,
                            value=value, max_fee_per_gas=2 * GWEI, **changes)


def run(coro):
    return asyncio.run(coro)
