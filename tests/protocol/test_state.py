"""protocol/state.py: roots equal ethereum-execution's (golden vectors) and py-trie's; witness mode.

Spec: docs/spec/trie.md#accounts
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import rlp
from hypothesis import given, settings
from hypothesis import strategies as st
from trie import HexaryTrie

from protocol.constants import DEV_MNEMONIC, EMPTY_CODE_HASH, EMPTY_TRIE_ROOT
from protocol.exceptions import InvalidEncoding, InvalidProof, MissingWitnessNode
from protocol.hashing import keccak256
from protocol.state import Account, State, decode_account, encode_account, verify_account_proof

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "genesis_roots.json").read_text())
CASES = {case["name"]: case for case in VECTORS["cases"]}

accounts_strategy = st.builds(
    Account, nonce=st.integers(0, 2**64 - 1), balance=st.integers(0, 2**256 - 1)
)
addresses = st.binary(min_size=20, max_size=20)


def _accounts(case: dict) -> dict[bytes, Account]:
    return {
        bytes.fromhex(a[2:]): Account(nonce, int(balance)) for a, nonce, balance in case["accounts"]
    }


@pytest.mark.parametrize("name", list(CASES))
def test_state_root_equals_ethereum_execution(name: str) -> None:
    case = CASES[name]
    accounts = _accounts(case)
    expected = bytes.fromhex(case["state_root"][2:])
    assert State.from_accounts(accounts).state_root() == expected
    incremental = State()
    for address, account in accounts.items():
        incremental.set_account(address, account)
    assert incremental.state_root() == expected


def test_golden_vectors_cover_the_dev_accounts() -> None:
    from eth_account import Account as EthAccount
    from eth_account.hdaccount import key_from_seed, seed_from_mnemonic

    dev = CASES["dev_accounts"]["accounts"]
    seed = seed_from_mnemonic(DEV_MNEMONIC, "")
    derived = [
        EthAccount.from_key(key_from_seed(seed, f"m/44'/60'/0'/0/{i}")).address for i in range(10)
    ]
    assert [address for address, _, _ in dev] == derived
    assert derived[0] == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert all(balance == str(10_000 * 10**18) for _, _, balance in dev)
    assert len(CASES["random_1000"]["accounts"]) == 1_000
    assert CASES["empty"]["state_root"] == "0x" + EMPTY_TRIE_ROOT.hex()


@settings(max_examples=100, deadline=None)
@given(account=accounts_strategy)
def test_encode_account_equals_rlp(account: Account) -> None:
    encoded = encode_account(account)
    assert encoded == rlp.encode([account.nonce, account.balance, EMPTY_TRIE_ROOT, EMPTY_CODE_HASH])
    assert decode_account(encoded) == account


@pytest.mark.parametrize(
    "raw",
    [
        rlp.encode([0, 0, EMPTY_TRIE_ROOT]),
        rlp.encode([0, 0, EMPTY_TRIE_ROOT, keccak256(b"code")]),
        rlp.encode([b"\x00", 0, EMPTY_TRIE_ROOT, EMPTY_CODE_HASH]),  # leading zero
        rlp.encode([b"\x00\x01", 0, EMPTY_TRIE_ROOT, EMPTY_CODE_HASH]),
        rlp.encode([b"\x01" * 9, 0, EMPTY_TRIE_ROOT, EMPTY_CODE_HASH]),  # nonce over 64 bits
        rlp.encode([0, 0, 0, EMPTY_TRIE_ROOT, EMPTY_CODE_HASH]),
        b"",
    ],
)
def test_decode_account_rejects_non_accounts(raw: bytes) -> None:
    with pytest.raises(InvalidEncoding):
        decode_account(raw)


def test_encode_account_rejects_out_of_range() -> None:
    with pytest.raises(InvalidEncoding):
        encode_account(Account(-1, 0))
    with pytest.raises(InvalidEncoding):
        encode_account(Account(0, 2**256))


def test_missing_account_is_zero_and_zero_accounts_are_kept() -> None:
    state = State()
    address = b"\x42" * 20
    assert state.get_account(address) == Account(0, 0)
    state.set_account(address, Account(0, 0))
    assert state.state_root() != EMPTY_TRIE_ROOT
    with pytest.raises(InvalidEncoding):
        state.get_account(b"\x42" * 19)


@settings(max_examples=50, deadline=None)
@given(
    accounts=st.dictionaries(addresses, accounts_strategy, max_size=40),
    updates=st.lists(st.tuples(addresses, accounts_strategy), max_size=20),
)
def test_state_root_equals_py_trie(accounts, updates) -> None:
    state = State.from_accounts(accounts)
    oracle = HexaryTrie({})
    for address, account in accounts.items():
        oracle[keccak256(address)] = rlp.encode(
            [account.nonce, account.balance, EMPTY_TRIE_ROOT, EMPTY_CODE_HASH]
        )
    assert state.state_root() == oracle.root_hash
    for address, account in updates:
        state.set_account(address, account)
        oracle[keccak256(address)] = encode_account(account)
    assert state.state_root() == oracle.root_hash


def test_account_proofs_verify() -> None:
    accounts = _accounts(CASES["random_1000"])
    state = State.from_accounts(accounts)
    root = state.state_root()
    for address in list(accounts)[:20]:
        proof = state.get_proof(address)
        assert verify_account_proof(root, address, proof) == accounts[address]
    absent = b"\x99" * 20
    assert verify_account_proof(root, absent, state.get_proof(absent)) is None
    with pytest.raises(InvalidProof):
        verify_account_proof(root, next(iter(accounts)), state.get_proof(absent)[:1])


def test_copy_keeps_per_block_states() -> None:
    genesis = State.from_accounts(_accounts(CASES["dev_accounts"]))
    root = genesis.state_root()
    alice = bytes.fromhex(CASES["dev_accounts"]["accounts"][0][0][2:])
    block1 = genesis.copy()
    block1.set_account(alice, Account(1, 5))
    fork = genesis.copy()
    fork.set_account(alice, Account(1, 6))
    assert genesis.state_root() == root and genesis.get_account(alice).nonce == 0
    assert block1.get_account(alice).balance == 5 and fork.get_account(alice).balance == 6
    assert len({genesis.state_root(), block1.state_root(), fork.state_root()}) == 3


def _transfer_block(rng: random.Random, known: list[bytes], n: int) -> list[tuple[bytes, bytes, int]]:
    """(sender, recipient, value) with some recipients new to the state."""
    block = []
    for _ in range(n):
        sender = rng.choice(known)
        recipient = rng.choice(known) if rng.random() < 0.7 else rng.randbytes(20)
        block.append((sender, recipient, rng.randrange(1000)))
    return block


def _apply_transfers(state: State, block, producer: bytes) -> bytes:
    for sender, recipient, value in block:
        account = state.get_account(sender)
        state.set_account(sender, Account(account.nonce + 1, account.balance - value - 1))
        account = state.get_account(recipient)
        state.set_account(recipient, Account(account.nonce, account.balance + value))
        account = state.get_account(producer)
        state.set_account(producer, Account(account.nonce, account.balance + 1))
    return state.state_root()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), size=st.integers(1, 400), n_transfers=st.integers(1, 30))
def test_stateless_block_gives_the_full_state_root(seed, size, n_transfers) -> None:
    rng = random.Random(seed)
    known = [rng.randbytes(20) for _ in range(size)]
    full = State.from_accounts({a: Account(rng.randrange(5), 10**18) for a in known})
    pre_root = full.state_root()
    producer = rng.choice([known[0], rng.randbytes(20)])
    block = _transfer_block(rng, known, n_transfers)
    touched = {producer} | {a for sender, recipient, _ in block for a in (sender, recipient)}
    witness = full.build_witness(touched)
    stateless = State.from_witness(pre_root, witness)
    assert _apply_transfers(stateless, block, producer) == _apply_transfers(full, block, producer)


def test_stateless_block_without_a_touched_account_raises() -> None:
    rng = random.Random(3)
    known = [rng.randbytes(20) for _ in range(500)]
    full = State.from_accounts({a: Account(0, 10**18) for a in known})
    block = _transfer_block(rng, known, 20)
    touched = [a for sender, recipient, _ in block for a in (sender, recipient)]
    witness = full.build_witness(a for a in touched if a != block[0][0])  # the first sender is missing
    stateless = State.from_witness(full.state_root(), witness)
    with pytest.raises(MissingWitnessNode):
        _apply_transfers(stateless, block, known[1])


def _set_one_by_one(accounts: dict[bytes, Account]) -> State:
    state = State()
    for address, account in accounts.items():
        state.set_account(address, account)
    return state


@settings(max_examples=60, deadline=None)
@given(
    accounts=st.one_of(
        st.dictionaries(addresses, accounts_strategy, max_size=2),
        st.dictionaries(addresses, accounts_strategy, max_size=60),
    ),
    updates=st.lists(st.tuples(addresses, accounts_strategy), max_size=10),
    shared=st.booleans(),
)
def test_genesis_build_equals_account_by_account(accounts, updates, shared) -> None:
    """`State.from_accounts` (bulk) against `set_account` one by one: roots, accounts, proofs and
    witnesses, before and after a block of updates; with one Account object shared by every
    address (as `compute_genesis_state` does) or one each."""
    if shared and accounts:
        common = next(iter(accounts.values()))
        accounts = dict.fromkeys(accounts, common)
    bulk, incremental = State.from_accounts(accounts), _set_one_by_one(accounts)
    probes = [*accounts, *(address for address, _ in updates), b"\x99" * 20]
    for _ in range(2):
        root = incremental.state_root()
        assert bulk.state_root() == root
        for address in probes:
            assert bulk.get_account(address) == incremental.get_account(address)
            proof = bulk.get_proof(address)
            assert proof == incremental.get_proof(address)
            assert verify_account_proof(root, address, proof) == (
                incremental.get_account(address) if address in accounts else None)
        assert bulk.build_witness(probes) == incremental.build_witness(probes)
        for address, account in updates:
            bulk.set_account(address, account)
            incremental.set_account(address, account)
            accounts = {**accounts, address: account}


def test_devnet_genesis_state_equals_account_by_account() -> None:
    from protocol.genesis import compute_genesis_state, make_devnet_genesis
    from protocol.params import devnet_params

    genesis = make_devnet_genesis(devnet_params(), extra_accounts=50)
    expected = _set_one_by_one({a: Account(0, b) for a, b in genesis.l2_alloc.items()}).state_root()
    assert compute_genesis_state(genesis).state_root() == expected
