"""Ethereum account keys for the devnet: the well-known development accounts and bulk ones.

`dev_accounts` derives anvil's and hardhat's accounts from their public mnemonic (so wallets
and Foundry scripts that know them work as-is); `generated_accounts` draws many keys from a
seed quickly, for benchmarks and large geneses. Neither holds anything secret: never fund
these keys on a real network.

Spec: docs/spec/transactions.md#development-accounts
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from coincurve import PublicKey

from .constants import ADDRESS_SIZE, DEV_MNEMONIC, SECP256K1_N
from .exceptions import InvalidEncoding
from .hashing import keccak256

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True, slots=True)
class DevAccount:
    """A development key pair."""

    address: bytes
    """20-byte Ethereum address."""
    private_key: bytes
    """32-byte secp256k1 secret key."""

    @property
    def checksum_address(self) -> str:
        """The EIP-55 form of `address`."""
        return to_checksum(self.address)


def address_of(private_key: bytes) -> bytes:
    """The 20-byte Ethereum address of a 32-byte secp256k1 private key.

    Spec: docs/spec/transactions.md#development-accounts
    """
    if len(private_key) != 32 or not 0 < int.from_bytes(private_key, "big") < SECP256K1_N:
        raise ValueError("a secp256k1 private key is 32 bytes in [1, n-1]")
    # PublicKey, not PrivateKey: PrivateKey also derives an x-only key (a second point
    # multiplication), which doubles the cost of a 100k-account genesis.
    public_key = PublicKey.from_valid_secret(private_key).format(compressed=False)
    return keccak256(public_key[1:])[12:]


def dev_accounts(count: int = 10, mnemonic: str = DEV_MNEMONIC) -> list[DevAccount]:
    """The first `count` accounts of `mnemonic` at BIP-44 path m/44'/60'/0'/0/i (anvil's).

    Index 0 of the default mnemonic is 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266.

    Spec: docs/spec/transactions.md#development-accounts
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    return list(_dev_accounts(count, mnemonic))


@functools.lru_cache(maxsize=16)
def _dev_accounts(count: int, mnemonic: str) -> tuple[DevAccount, ...]:
    # eth-account's BIP-39/BIP-32 code, the same that Account.from_mnemonic runs; calling
    # its two steps directly stretches the mnemonic (PBKDF2, 2048 rounds) once, not per account.
    from eth_account.hdaccount import key_from_seed, seed_from_mnemonic  # slow to import

    seed = seed_from_mnemonic(mnemonic, "")
    accounts = []
    for index in range(count):
        private_key = bytes(key_from_seed(seed, f"m/44'/60'/0'/0/{index}"))
        accounts.append(DevAccount(address_of(private_key), private_key))
    return tuple(accounts)


def generated_accounts(count: int, seed: bytes = b"seqnet/bench") -> list[DevAccount]:
    """`count` deterministic accounts: key i = keccak(seed + i as 8 bytes), re-hashed while
    it is not a valid secp256k1 key (0 or >= n). About 20 us per account on a quiet core.

    Spec: docs/spec/transactions.md#development-accounts
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    return list(_generated_accounts(count, bytes(seed)))


@functools.lru_cache(maxsize=8)
def _generated_accounts(count: int, seed: bytes) -> tuple[DevAccount, ...]:
    accounts = []
    for index in range(count):
        private_key = keccak256(seed + index.to_bytes(8, "big"))
        while not 0 < int.from_bytes(private_key, "big") < SECP256K1_N:
            private_key = keccak256(private_key)
        accounts.append(DevAccount(address_of(private_key), private_key))
    return tuple(accounts)


def to_checksum(address: bytes) -> str:
    """The EIP-55 mixed-case hex form of a 20-byte address.

    Spec: docs/spec/transactions.md#addresses
    """
    if len(address) != ADDRESS_SIZE:
        raise InvalidEncoding(f"an address is 20 bytes, got {len(address)}")
    lower = address.hex()
    digest = keccak256(lower.encode("ascii")).hex()
    return "0x" + "".join(
        char.upper() if char > "9" and digest[i] >= "8" else char for i, char in enumerate(lower))


def parse_address(text: str) -> bytes:
    """The 20 bytes of a 0x-prefixed hex address. All-lower or all-upper case is accepted
    as is; mixed case must be a correct EIP-55 checksum.

    Spec: docs/spec/transactions.md#addresses
    """
    if not isinstance(text, str):
        raise InvalidEncoding(f"an address is a 0x-hex string, got {type(text).__name__}")
    if not text.startswith(("0x", "0X")):
        raise InvalidEncoding(f"address {text!r} must start with 0x")
    digits = text[2:]
    if len(digits) != 2 * ADDRESS_SIZE or not _HEX_DIGITS.issuperset(digits):
        raise InvalidEncoding(f"address {text!r} must be 40 hex digits after 0x")
    address = bytes.fromhex(digits)
    if digits != digits.lower() and digits != digits.upper() and to_checksum(address)[2:] != digits:
        raise InvalidEncoding(f"address {text!r} has a wrong EIP-55 checksum")
    return address
