"""Ethereum account keys for the devnet: the well-known development accounts and bulk ones.

`dev_accounts` derives anvil's and hardhat's accounts from their public mnemonic (so wallets
and Foundry scripts that know them work as-is); `generated_accounts` draws many keys from a
seed quickly, for benchmarks and large geneses. Neither holds anything secret: never fund
these keys on a real network.

Spec: docs/spec/transactions.md#development-accounts
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import unicodedata
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
    seed = compute_bip39_seed(mnemonic)
    # m/44'/60'/0'/0 once, then one non-hardened step per account
    key, chain_code = _bip32_master(seed)
    for index in (44 | _HARDENED, 60 | _HARDENED, 0 | _HARDENED, 0):
        key, chain_code = _bip32_child(key, chain_code, index)
    accounts = []
    for index in range(count):
        private_key, _ = _bip32_child(key, chain_code, index)
        accounts.append(DevAccount(address_of(private_key), private_key))
    return tuple(accounts)


_HARDENED = 0x8000_0000


def compute_bip39_seed(mnemonic: str, passphrase: str = "") -> bytes:
    """BIP-39: PBKDF2-HMAC-SHA512 of the NFKD mnemonic, salt "mnemonic" + passphrase, 2048 rounds.

    eth-account's HD wallet (the tests' oracle) does the same in pure Python, taking seconds
    per process start; this takes a few milliseconds.
    """
    words = unicodedata.normalize("NFKD", " ".join(mnemonic.split()))
    salt = unicodedata.normalize("NFKD", "mnemonic" + passphrase)
    return hashlib.pbkdf2_hmac("sha512", words.encode(), salt.encode(), 2048)


def _bip32_master(seed: bytes) -> tuple[bytes, bytes]:
    digest = hmac.new(b"Bitcoin seed", seed, hashlib.sha512).digest()
    return digest[:32], digest[32:]


def _bip32_child(key: bytes, chain_code: bytes, index: int) -> tuple[bytes, bytes]:
    """BIP-32 private child key derivation (CKDpriv)."""
    if index & _HARDENED:
        data = b"\x00" + key + index.to_bytes(4, "big")
    else:
        data = PublicKey.from_valid_secret(key).format(compressed=True) + index.to_bytes(4, "big")
    digest = hmac.new(chain_code, data, hashlib.sha512).digest()
    child = (int.from_bytes(digest[:32], "big") + int.from_bytes(key, "big")) % SECP256K1_N
    if child == 0 or int.from_bytes(digest[:32], "big") >= SECP256K1_N:
        raise ValueError(f"BIP-32: index {index} gives an invalid key; use the next index")
    return child.to_bytes(32, "big"), digest[32:]


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
