"""Development accounts, generated accounts and address text, with eth-account as the oracle.

Spec: docs/spec/transactions.md#development-accounts
"""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.accounts import (
    DevAccount,
    address_of,
    dev_accounts,
    generated_accounts,
    parse_address,
    to_checksum,
)
from protocol.constants import SECP256K1_N
from protocol.exceptions import InvalidEncoding
from protocol.hashing import keccak256

# anvil / hardhat, mnemonic "test test ... junk", m/44'/60'/0'/0/i
ANVIL_ADDRESSES = [
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
    "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
    "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
    "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
    "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
]
ANVIL_KEY_0 = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"

private_keys = st.integers(min_value=1, max_value=SECP256K1_N - 1).map(lambda k: k.to_bytes(32, "big"))


def test_dev_accounts_are_anvils():
    accounts = dev_accounts()
    assert [to_checksum(account.address) for account in accounts] == ANVIL_ADDRESSES
    assert accounts[0].private_key.hex() == ANVIL_KEY_0
    assert accounts[0].checksum_address == ANVIL_ADDRESSES[0]
    for account in accounts:
        assert len(account.address) == 20 and len(account.private_key) == 32
        assert Account.from_key(account.private_key).address == to_checksum(account.address)


def test_dev_accounts_match_eth_account_from_mnemonic():
    Account.enable_unaudited_hdwallet_features()
    mnemonic = "health embark april buyer eternal leopard want before nominee head thing tackle"
    ours = dev_accounts(12, mnemonic)
    for index in (0, 11):
        oracle = Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{index}")
        assert ours[index].private_key == bytes(oracle.key)
        assert to_checksum(ours[index].address) == oracle.address
    assert to_checksum(ours[0].address) == "0x61Cc15522D06983Ac7aADe23f9d5433d38e78195"


def test_dev_accounts_prefix_and_cache():
    assert dev_accounts(3) == dev_accounts(10)[:3]
    first = dev_accounts(5)
    first.append(first[0])  # callers get their own list
    assert len(dev_accounts(5)) == 5


def test_generated_accounts_deterministic():
    accounts = generated_accounts(200)
    assert accounts == generated_accounts(200)
    assert generated_accounts(50) == accounts[:50]
    assert len({account.address for account in accounts}) == 200
    assert accounts[0].private_key == keccak256(b"seqnet/bench" + (0).to_bytes(8, "big"))
    other = generated_accounts(10, seed=b"another seed")
    assert not {account.address for account in other} & {account.address for account in accounts}


def test_generated_accounts_match_eth_account():
    for account in generated_accounts(20, seed=b"oracle"):
        assert Account.from_key(account.private_key).address == to_checksum(account.address)


@settings(max_examples=100, deadline=None)
@given(private_keys)
def test_address_of_matches_eth_account(private_key):
    assert to_checksum(address_of(private_key)) == Account.from_key(private_key).address


@pytest.mark.parametrize("bad", [b"\x00" * 32, SECP256K1_N.to_bytes(32, "big"), b"\x01" * 31])
def test_address_of_rejects_invalid_keys(bad):
    with pytest.raises(ValueError):
        address_of(bad)


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=20, max_size=20))
def test_checksum_matches_eth_utils_and_round_trips(address):
    text = to_checksum(address)
    assert text == to_checksum_address(address)
    assert parse_address(text) == address
    assert parse_address(text.lower()) == address
    assert parse_address("0x" + text[2:].upper()) == address


def test_parse_address_rejects_bad_checksum():
    good = ANVIL_ADDRESSES[0]
    bad = good[:2] + good[2].swapcase() + good[3:]  # 'f' -> 'F'
    assert bad != good
    with pytest.raises(InvalidEncoding):
        parse_address(bad)


@pytest.mark.parametrize("text", [
    "f39fd6e51aad88f6f4ce6ab8827279cfffb92266",        # no 0x
    "0xf39fd6e51aad88f6f4ce6ab8827279cfffb9226",       # 19.5 bytes
    "0xf39fd6e51aad88f6f4ce6ab8827279cfffb9226600",    # 21 bytes
    "0xg39fd6e51aad88f6f4ce6ab8827279cfffb92266",      # not hex
    "0x",
    "",
])
def test_parse_address_rejects_malformed(text):
    with pytest.raises(InvalidEncoding):
        parse_address(text)


def test_to_checksum_rejects_wrong_length():
    with pytest.raises(InvalidEncoding):
        to_checksum(b"\x00" * 19)


def test_dev_account_is_frozen():
    account = DevAccount(b"\x00" * 20, b"\x01" * 32)
    with pytest.raises(AttributeError):
        account.address = b"\x01" * 20  # type: ignore[misc]
