"""Shared helpers of the L1 mock tests: fast params, signed calls, a contract harness, and
builders of valid blocks and fraud evidence."""

from __future__ import annotations

import dataclasses
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct

from protocol.accounts import dev_accounts
from protocol.blocks import Block
from protocol.chainbuilder import ChainBuilder, devnet_node_key
from protocol.constants import TOKEN
from protocol.encoding import encode_block
from protocol.genesis import compute_genesis_header, make_devnet_genesis
from protocol.l1calls import L1_METHODS, L1Call, compute_call_message, encode_l1_call, sign_l1_call
from protocol.params import devnet_params

from l1mock.core.contract import Contract

GENESIS_MS = 1_700_000_000_000
L1_START_MS = GENESIS_MS - 10_000
ACCOUNTS = dev_accounts(10)
STAKES = (35_000, 30_000, 25_000, 20_000)
NODE_KEYS = [devnet_node_key(i) for i in range(8)]


def make_params(**changes: Any):
    base = dict(genesis_time_ms=GENESIS_MS, slot_ms=1000, epoch_slots=8, lookahead_slots=2,
                l1_block_ms=1000, challenge_window_l1_blocks=3, unbonding_l1_blocks=4,
                unjail_delay_l1_blocks=2, force_delay_l1_blocks=2, downtime_window_slots=10,
                downtime_max_missed=5)
    base.update(changes)
    return devnet_params(**base)


def sign_call(account, l1_chain_id: int, method: str, nonce: int, args: dict) -> L1Call:
    if method in L1_METHODS:
        return sign_l1_call(account.private_key, l1_chain_id, method, nonce, args)
    text = compute_call_message(l1_chain_id, method, account.address, nonce, args)
    signed = Account.from_key(account.private_key).sign_message(encode_defunct(text=text))
    return L1Call(method, account.address, nonce, args, bytes(signed.signature))


def call_body(account, l1_chain_id: int, method: str, nonce: int, args: dict) -> dict:
    return encode_l1_call(sign_call(account, l1_chain_id, method, nonce, args))


def hx(data: bytes) -> str:
    return "0x" + data.hex()


def amount(tokens: int) -> str:
    return str(tokens * TOKEN)


def block_args(*blocks: Block) -> dict:
    return {"blocks": [hx(encode_block(block)) for block in blocks]}


class Harness:
    """A Contract driven directly: `mine()` produces L1 blocks, `call()` signs and applies."""

    def __init__(self, params=None) -> None:
        self.params = params or make_params()
        self.genesis = make_devnet_genesis(self.params)
        self.contract = Contract(self.params, self.genesis, compute_genesis_header(self.genesis))
        self.time_ms = L1_START_MS
        self.contract.tick(0, self.time_ms)
        self.events: list = []
        self._drain()

    def _drain(self) -> None:
        self.events.extend(self.contract.take_outbox().events)

    def mine(self, count: int = 1) -> None:
        for _ in range(count):
            self.time_ms += self.params.l1_block_ms
            self.contract.tick(self.contract.head_number + 1, self.time_ms)
        self._drain()

    def mine_until(self, timestamp_ms: int) -> None:
        while self.time_ms < timestamp_ms:
            self.mine()

    def signed(self, who, method: str, args: dict, nonce: int | None = None) -> L1Call:
        account = ACCOUNTS[who] if isinstance(who, int) else who
        if nonce is None:
            nonce = self.contract.get_nonce(account.address)
        return sign_call(account, self.params.l1_chain_id, method, nonce, args)

    def call(self, who, method: str, **args: Any) -> dict:
        result = self.contract.execute(self.signed(who, method, args))
        self._drain()
        return result

    def kinds(self) -> list[str]:
        return [event.kind for event in self.events]

    def register_devnet(self, stakes=STAKES) -> None:
        for i, stake in enumerate(stakes):
            self.call(i, "register_sequencer", node_key=hx(NODE_KEYS[i].public),
                      endpoint=f"http://127.0.0.1:{9000 + i}", stake=amount(stake),
                      commission_bps=1000)

    def start_chain(self, stakes=STAKES) -> ChainBuilder:
        """Register the devnet sequencers and mine until epoch 0 and 1 are snapshotted."""
        self.register_devnet(stakes)
        self.mine_until(GENESIS_MS + self.params.epoch_ms - self.params.lookahead_slots
                        * self.params.slot_ms)
        assert 0 in self.contract.snapshots and 1 in self.contract.snapshots
        return ChainBuilder(self.params, stakes_tokens=stakes, genesis=self.genesis)


def with_header(chain: ChainBuilder, block: Block, **changes: Any) -> Block:
    header = dataclasses.replace(block.header, **changes)
    key = chain.key_of(header.producer)
    return Block(header, key.sign(b"block", chain.params.chain_id, header.hash), block.queue_items,
                 block.transactions)


# --- an HTTP harness over TestClient ------------------------------------------------------


class L1Client:
    """A TestClient on create_app with the clock off: `mine()` produces L1 blocks."""

    def __init__(self, client, params) -> None:
        self.client = client
        self.params = params
        self.node = client.app.state.node

    @property
    def contract(self):
        return self.node.contract

    def mine(self, count: int = 1) -> None:
        for _ in range(count):
            assert self.node.tick(self.contract.head_timestamp_ms + self.params.l1_block_ms)

    def mine_until(self, timestamp_ms: int) -> None:
        while self.contract.head_timestamp_ms < timestamp_ms:
            self.mine()

    def get(self, path: str, status: int = 200, **params: Any):
        response = self.client.get(path, params=params)
        assert response.status_code == status, response.text
        return response.json()

    def nonce(self, who) -> int:
        account = ACCOUNTS[who] if isinstance(who, int) else who
        return self.contract.get_nonce(account.address)

    def body(self, who, method: str, args: dict, nonce: int | None = None) -> dict:
        account = ACCOUNTS[who] if isinstance(who, int) else who
        nonce = self.nonce(account) if nonce is None else nonce
        return call_body(account, self.params.l1_chain_id, method, nonce, args)

    def call(self, who, method: str, **args: Any) -> dict:
        response = self.client.post(f"/calls/{method}", json=self.body(who, method, args))
        assert response.status_code == 200, response.text
        return response.json()["result"]

    def reject(self, who, method: str, error: str, status: int = 400, **args: Any) -> dict:
        """Post a call that must be refused with `error`, and check that nothing changed."""
        return self.reject_body(self.body(who, method, args), error, status)

    def reject_body(self, body: Any, error: str | None, status: int = 400) -> dict:
        before = self.fingerprint()
        response = self.client.post("/calls", json=body)
        assert response.status_code == status, response.text
        payload = response.json()
        if error is not None:
            assert payload["error"] == error, payload
        assert self.fingerprint() == before
        return payload

    def fingerprint(self) -> tuple:
        c = self.contract
        return (dict(c.balances), dict(c.nonces), c.next_event_id, c.calls_applied,
                len(c.chain), len(c.queue), len(c.fraud_proofs),
                {k: (dict(s.stakes), s.jailed) for k, s in c.sequencers.items()})

    def register_devnet(self, stakes=STAKES) -> None:
        for i, stake in enumerate(stakes):
            self.call(i, "register_sequencer", node_key=hx(NODE_KEYS[i].public),
                      endpoint=f"http://127.0.0.1:{9000 + i}", stake=amount(stake),
                      commission_bps=1000)

    def start_chain(self, stakes=STAKES) -> ChainBuilder:
        self.register_devnet(stakes)
        self.mine_until(GENESIS_MS + self.params.epoch_ms
                        - self.params.lookahead_slots * self.params.slot_ms)
        assert 0 in self.contract.snapshots and 1 in self.contract.snapshots
        return ChainBuilder(self.params, stakes_tokens=stakes,
                            genesis=make_devnet_genesis(self.params))

    def submit(self, who, *blocks: Block) -> dict:
        return self.call(who, "submit_batch", **block_args(*blocks))


# --- transactions and fraud evidence -----------------------------------------------------


def signed_transfer(params, account, to: bytes, value: int, nonce: int):
    from protocol.transactions import decode_transaction, sign_transaction
    raw = sign_transaction(account.private_key, chain_id=params.chain_id, nonce=nonce, to=to,
                           value=value, max_fee_per_gas=2 * params.base_fee_wei,
                           max_priority_fee_per_gas=params.base_fee_wei)
    return decode_transaction(raw)


def invalid_state_evidence(chain: ChainBuilder, bad: Block) -> bytes:
    """Evidence against `bad`, built on the chain's head (its parent)."""
    from protocol.fraud import InvalidStateEvidence, encode_evidence
    from protocol.witness import build_witness
    witness = build_witness(chain.head_state, bad, chain.operator_of(bad.header.producer),
                            chain.params)
    return encode_evidence(InvalidStateEvidence(bad, tuple(witness)))


def equivocation_evidence(chain: ChainBuilder, block: Block) -> bytes:
    from protocol.fraud import EquivocationEvidence, encode_evidence
    twin = with_header(chain, block, timestamp_ms=block.header.timestamp_ms + 1)
    return encode_evidence(EquivocationEvidence((block.header, block.signature),
                                                (twin.header, twin.signature)))


def receipt_violation_evidence(chain: ChainBuilder, block: Block, promised_tx_hash: bytes) -> bytes:
    """A receipt of the block's leader promising `promised_tx_hash` at index 0."""
    from protocol.fraud import ReceiptViolationEvidence, encode_evidence
    from protocol.hashing import compute_prefix_chain, keccak256
    from protocol.receipts import sign_receipt
    key = chain.key_of(block.header.producer)
    receipt = sign_receipt(key, chain.params.chain_id, promised_tx_hash, block.header.slot, 0,
                           compute_prefix_chain([promised_tx_hash])[0])
    tx_hashes = tuple(keccak256(raw) for raw in block.transactions)
    return encode_evidence(ReceiptViolationEvidence(receipt, block.header, block.signature,
                                                    tx_hashes))


def censorship_evidence(block: Block, item) -> bytes:
    from protocol.fraud import CensorshipEvidence, encode_evidence
    return encode_evidence(CensorshipEvidence(block.header, block.signature, item))
