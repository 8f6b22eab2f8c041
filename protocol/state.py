"""L2 accounts over the Merkle-Patricia trie (DESIGN.md section 3).

An account lives at trie key `keccak(address)` with value
`rlp([nonce, balance, EMPTY_TRIE_ROOT, EMPTY_CODE_HASH])`, so a state root and an
`eth_getProof` account proof mean here what they mean on Ethereum. Accounts are never deleted:
an account set to zero nonce and balance stays in the trie.

Spec: docs/spec/trie.md#accounts
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import sha3

from .constants import ADDRESS_SIZE, EMPTY_CODE_HASH, EMPTY_TRIE_ROOT
from .exceptions import InvalidEncoding, InvalidProof
from .trie import Trie, verify_proof

_keccak = sha3.keccak_256

_ACCOUNT_TAIL = b"\xa0" + EMPTY_TRIE_ROOT + b"\xa0" + EMPTY_CODE_HASH
"""The RLP of the last two fields of every account: no storage, no code."""

_KEY_CACHE: dict[bytes, bytes] = {}
_KEY_CACHE_SIZE = 1 << 18


@dataclass(frozen=True, slots=True)
class Account:
    """An externally owned account: transfers are the only thing this L2 executes."""

    nonce: int = 0
    """Number of transactions the account has sent."""
    balance: int = 0
    """Balance in wei."""


EMPTY_ACCOUNT = Account()


def _encode_uint(value: int) -> bytes:
    if value == 0:
        return b"\x80"
    if value < 0x80:
        return bytes((value,))
    data = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return bytes((0x80 + len(data),)) + data


def encode_account(account: Account) -> bytes:
    """rlp([nonce, balance, EMPTY_TRIE_ROOT, EMPTY_CODE_HASH]): the trie value of an account.

    Spec: docs/spec/trie.md#accounts
    """
    nonce = account.nonce
    balance = account.balance
    if 0 <= nonce < 0x80 and 0x80 <= balance < 1 << 256:
        # the common shape, a one-byte nonce and a multi-byte balance, in one step (genesis
        # encodes 100k of these)
        size = (balance.bit_length() + 7) >> 3
        return (bytes((0xF8, 68 + size, nonce or 0x80, 0x80 + size)) + balance.to_bytes(size, "big")
                + _ACCOUNT_TAIL)
    if nonce < 0 or balance < 0 or nonce >= 1 << 64 or balance >= 1 << 256:
        raise InvalidEncoding(f"account out of range: nonce {nonce}, balance {balance}")
    payload = _encode_uint(nonce) + _encode_uint(balance) + _ACCOUNT_TAIL
    return bytes((0xF8, len(payload))) + payload  # 68..110 bytes: always a one-byte length


def _decode_uint(raw: bytes, pos: int, limit: int) -> tuple[int, int]:
    """A canonical RLP integer of at most `limit` bytes at `pos`, and the position after it."""
    b0 = raw[pos]
    if b0 < 0x80:
        if b0 == 0:
            raise InvalidEncoding("integer with a leading zero byte")
        return b0, pos + 1
    size = b0 - 0x80
    if size > limit:
        raise InvalidEncoding(f"integer of {size} bytes, at most {limit} allowed")
    end = pos + 1 + size
    data = raw[pos + 1 : end]
    if len(data) != size or (size and data[0] == 0) or (size == 1 and data[0] < 0x80):
        raise InvalidEncoding("non-canonical integer")
    return int.from_bytes(data, "big"), end


def decode_account(raw: bytes) -> Account:
    """The account encoded by `encode_account`; raises `InvalidEncoding` for anything else.

    Spec: docs/spec/trie.md#accounts
    """
    n = len(raw)
    if n < 70 or raw[0] != 0xF8 or raw[1] != n - 2 or raw[n - 66 :] != _ACCOUNT_TAIL:
        raise InvalidEncoding("not an account without storage and code")
    b0 = raw[2]
    if b0 == 0x80:  # the common cases inline: a nonce of 0 or below 128
        nonce, pos = 0, 3
    elif 0 < b0 < 0x80:
        nonce, pos = b0, 3
    else:
        nonce, pos = _decode_uint(raw, 2, 8)
    balance, pos = _decode_uint(raw, pos, 32) if raw[pos] != 0x80 else (0, pos + 1)
    if pos != n - 66:
        raise InvalidEncoding("account has extra fields")
    return Account(nonce, balance)


def compute_account_key(address: bytes) -> bytes:
    """keccak(address): where an account lives in the state trie (memoised).

    Spec: docs/spec/trie.md#accounts
    """
    key = _KEY_CACHE.get(address)
    if key is None:
        if len(address) != ADDRESS_SIZE:
            raise InvalidEncoding(f"address of {len(address)} bytes, {ADDRESS_SIZE} expected")
        key = _keccak(address).digest()
        if len(_KEY_CACHE) >= _KEY_CACHE_SIZE:
            _KEY_CACHE.clear()
        _KEY_CACHE[address] = key
    return key


class State:
    """The L2 account state; `copy` is O(1) and copies never see each other's changes.

    Spec: docs/spec/trie.md#accounts
    """

    __slots__ = ("_trie",)

    def __init__(self, trie: Trie | None = None) -> None:
        self._trie = trie if trie is not None else Trie()

    @classmethod
    def from_accounts(cls, accounts: Mapping[bytes, Account]) -> State:
        """A state holding exactly `accounts` (genesis), built in one pass.

        Spec: docs/spec/trie.md#bulk-build
        """
        keccak = _keccak
        values: dict[bytes, bytes] = {}
        last: Account | None = None
        value = b""
        for address, account in accounts.items():
            if len(address) != ADDRESS_SIZE:
                raise InvalidEncoding(f"address of {len(address)} bytes, {ADDRESS_SIZE} expected")
            # A genesis gives many addresses the same Account object (`compute_genesis_state`):
            # encode it once, and their leaves share the encoding.
            if account is not last:
                value = encode_account(account)
                last = account
            values[keccak(address).digest()] = value
        return cls(Trie.from_mapping(values))

    @classmethod
    def from_witness(cls, root: bytes, nodes: Iterable[bytes]) -> State:
        """A stateless state at `root` that knows only the witness `nodes`.

        Spec: docs/spec/trie.md#witness-mode
        """
        return cls(Trie.from_witness(root, nodes))

    def get_account(self, address: bytes) -> Account:
        """The account at `address`; an address never touched has `Account(0, 0)`.

        Spec: docs/spec/trie.md#accounts
        """
        raw = self._trie.get(compute_account_key(address))
        return EMPTY_ACCOUNT if raw is None else decode_account(raw)

    def set_account(self, address: bytes, account: Account) -> None:
        """Store `account` at `address` (an all-zero account is stored too, never deleted).

        Spec: docs/spec/trie.md#accounts
        """
        self._trie.set(compute_account_key(address), encode_account(account))

    def state_root(self) -> bytes:
        """The state root, hashing only what changed since the last call.

        Spec: docs/spec/trie.md#deferred-hashing
        """
        return self._trie.root_hash()

    def root_steps(self) -> Iterator[None]:
        """`state_root()` in slices (see Trie.commit_steps); call state_root() after."""
        return self._trie.commit_steps()

    def copy(self) -> State:
        """An independent state sharing every trie node with this one (O(1)).

        Spec: docs/spec/trie.md#persistence
        """
        return State(self._trie.copy())

    def get_proof(self, address: bytes) -> list[bytes]:
        """eth_getProof's accountProof for `address` against `state_root()`.

        Spec: docs/spec/trie.md#proofs
        """
        return self._trie.get_proof(compute_account_key(address))

    def build_witness(self, addresses: Iterable[bytes]) -> list[bytes]:
        """The trie nodes a stateless executor needs to read and write every one of `addresses`.

        Spec: docs/spec/trie.md#witness-mode
        """
        return self._trie.build_witness(compute_account_key(a) for a in addresses)


def verify_account_proof(root: bytes, address: bytes, proof: list[bytes]) -> Account | None:
    """The account `proof` proves at `address` under `root`, or None if it proves it absent.

    Raises `InvalidProof` when the proof is incomplete or malformed, or proves a value that is
    not an account.

    Spec: docs/spec/trie.md#proofs
    """
    raw = verify_proof(root, compute_account_key(address), proof)
    if raw is None:
        return None
    try:
        return decode_account(raw)
    except InvalidEncoding as error:
        raise InvalidProof(f"proof for {address.hex()} proves a non-account value: {error}") from error
