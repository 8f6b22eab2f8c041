"""The genesis of a network: who holds what on L1 and L2 at time zero, and block 0.

Every service derives the genesis from the chain parameters alone, so the L1 mock, the
sequencers and the rangers agree on block 0's hash without exchanging it.

Spec: docs/spec/parameters.md#genesis
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .accounts import dev_accounts, generated_accounts
from .blocks import Block, Header
from .constants import EMPTY_TRIE_ROOT, TOKEN, ZERO_HASH
from .params import ChainParams
from .state import Account, State

DEV_ACCOUNT_COUNT = 10
DEV_L2_BALANCE_WEI = 10_000 * TOKEN
"""What anvil and hardhat give each dev account."""
DEV_L1_BALANCE_WEI = 1_000_000 * TOKEN
"""L1 tokens per dev account: enough to stake the devnet's sequencers and to deposit."""
EXTRA_L2_BALANCE_WEI = 1_000 * TOKEN
GENESIS_PRODUCER = b"\x00" * 32


@dataclass(frozen=True)
class Genesis:
    params: ChainParams
    l2_alloc: dict[bytes, int] = field(default_factory=dict)
    """L2 balances (wei) by address."""
    l1_alloc: dict[bytes, int] = field(default_factory=dict)
    """L1 token balances (wei) by address."""


def make_devnet_genesis(params: ChainParams, extra_accounts: int = 0) -> Genesis:
    """The 10 dev accounts of the anvil mnemonic funded on L1 and L2, plus `extra_accounts`
    deterministic generated accounts funded on L2 (benchmarks use 100k).

    Spec: docs/spec/parameters.md#genesis
    """
    l2_alloc: dict[bytes, int] = {}
    l1_alloc: dict[bytes, int] = {}
    for account in dev_accounts(DEV_ACCOUNT_COUNT):
        l2_alloc[account.address] = DEV_L2_BALANCE_WEI
        l1_alloc[account.address] = DEV_L1_BALANCE_WEI
    if extra_accounts:
        for account in generated_accounts(extra_accounts):
            l2_alloc.setdefault(account.address, EXTRA_L2_BALANCE_WEI)
    return Genesis(params=params, l2_alloc=l2_alloc, l1_alloc=l1_alloc)


def compute_genesis_state(genesis: Genesis) -> State:
    # One Account per distinct balance (a devnet genesis has two): `State.from_accounts`
    # encodes an Account once for a run of addresses that share it.
    by_balance: dict[int, Account] = {}
    accounts: dict[bytes, Account] = {}
    for address, balance in genesis.l2_alloc.items():
        account = by_balance.get(balance)
        if account is None:
            account = by_balance[balance] = Account(0, balance)
        accounts[address] = account
    return State.from_accounts(accounts)


def compute_genesis_header(genesis: Genesis, state_root: bytes | None = None) -> Header:
    """Block 0: no producer, no QC, the genesis state root. Pass `state_root` when the genesis
    state was already computed, to avoid building it twice."""
    if state_root is None:
        state_root = compute_genesis_state(genesis).state_root()
    return Header(
        number=0,
        parent_hash=ZERO_HASH,
        slot=0,
        timestamp_ms=genesis.params.genesis_time_ms,
        producer=GENESIS_PRODUCER,
        tx_root=ZERO_HASH,
        state_root=state_root,
        withdrawals_root=EMPTY_TRIE_ROOT,
        l1_origin=0,
        l1_queue_index=0,
        parent_qc=None,
    )


def compute_genesis_block(genesis: Genesis, state_root: bytes | None = None) -> Block:
    return Block(header=compute_genesis_header(genesis, state_root), signature=b"")
