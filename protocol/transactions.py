"""Real signed Ethereum transactions: decode, fast sender recovery, fees and validity.

Accepted: legacy transactions signed with EIP-155 replay protection, and EIP-1559 (type 2)
transactions with an empty access list. Everything else is refused with a typed reason.

The hot path (`decode_transaction`) decodes with `rlp`, builds the signing hash by slicing
the received bytes (no re-encoding of the fields), and recovers the sender with coincurve:
about 10x faster than `eth_account.Account.recover_transaction`, which stays the test
oracle (DESIGN.md section 10).

Spec: docs/spec/transactions.md
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from . import rlpcodec
from coincurve import PrivateKey, PublicKey

from .constants import ADDRESS_SIZE, MAX_TX_SIZE, SECP256K1_HALF_N, SECP256K1_N, TX_GAS
from .exceptions import (
    AccessListNotAllowed,
    ContractCreationNotAllowed,
    DataNotAllowed,
    FeeTooLow,
    HighS,
    InsufficientBalance,
    IntrinsicGasTooLow,
    InvalidEncoding,
    InvalidSignature,
    NonceTooHigh,
    NonceTooLow,
    OversizedTransaction,
    TipAboveFeeCap,
    UnsupportedTransactionType,
    WrongChainId,
)
from .hashing import keccak256
from .params import ChainParams

LEGACY_TX_TYPE = 0
"""Legacy (untyped) transaction: an RLP list of 9 fields."""
FEE_MARKET_TX_TYPE = 2
"""EIP-1559 transaction: `0x02 || rlp([12 fields])`."""

_LEGACY_FIELDS = 9
_FEE_MARKET_FIELDS = 12
_UINT64_BYTES = 8
_UINT256_BYTES = 32


@dataclass(frozen=True, slots=True)
class Transaction:
    """A decoded, signature-checked transaction. Built by `decode_transaction` only."""

    tx_type: int
    """0 for legacy, 2 for EIP-1559."""
    chain_id: int | None
    """Chain id the signature commits to; None for a pre-EIP-155 legacy transaction."""
    nonce: int
    """Sender's nonce this transaction consumes."""
    max_priority_fee_per_gas: int
    """EIP-1559 tip cap; a legacy transaction's gas price."""
    max_fee_per_gas: int
    """EIP-1559 fee cap; a legacy transaction's gas price."""
    gas: int
    """Gas limit. Only 21,000 of it is ever charged (DESIGN.md section 3)."""
    to: bytes | None
    """Recipient (20 bytes); None would create a contract and is refused by validation."""
    value: int
    """Wei transferred to `to`."""
    data: bytes
    """Call data; must be empty to be valid."""
    v: int
    """Legacy: the raw v (27/28 or chain_id * 2 + 35/36); type 2: y_parity (0/1)."""
    r: int
    """Signature r, in [1, n-1]."""
    s: int
    """Signature s, in [1, n/2] (low s, EIP-2)."""
    sender: bytes
    """Address recovered from the signature (20 bytes)."""
    hash: bytes
    """keccak(raw): the transaction hash Ethereum tools show."""
    raw: bytes
    """The exact bytes received (type 2: 0x02 || rlp(...))."""

    @property
    def gas_price(self) -> int:
        """Legacy gas price (== max_fee_per_gas for every type)."""
        return self.max_fee_per_gas

    @property
    def y_parity(self) -> int:
        """Recovery id of the signature (0 or 1), for both types."""
        return compute_y_parity(self.tx_type, self.v)


class AccountLike(Protocol):
    """What validation reads of an account: `protocol.state.Account` or anything shaped like it."""

    nonce: int
    balance: int


# --- encoding helpers -----------------------------------------------------------------------


def _uint(item: Any, name: str, max_bytes: int = _UINT256_BYTES) -> int:
    """A canonical RLP integer: a byte string, no leading zero byte, at most `max_bytes`."""
    if type(item) is not bytes:
        raise InvalidEncoding(f"{name} must be an RLP string, got a list")
    if len(item) > max_bytes:
        raise InvalidEncoding(f"{name} is {len(item)} bytes, at most {max_bytes} allowed")
    if item and item[0] == 0:
        raise InvalidEncoding(f"{name} is not canonical: leading zero byte")
    return int.from_bytes(item, "big")


def _address_or_none(item: Any) -> bytes | None:
    if type(item) is not bytes:
        raise InvalidEncoding("to must be an RLP string, got a list")
    if not item:
        return None
    if len(item) != ADDRESS_SIZE:
        raise InvalidEncoding(f"to must be 20 bytes or empty, got {len(item)} bytes")
    return item


def _bytes_field(item: Any, name: str) -> bytes:
    if type(item) is not bytes:
        raise InvalidEncoding(f"{name} must be an RLP string, got a list")
    return item


def _encoded_string_size(item: bytes) -> int:
    """Size of the RLP encoding of a byte string of at most 55 bytes."""
    if len(item) == 1 and item[0] < 0x80:
        return 1
    return 1 + len(item)


def _encode_string(item: bytes) -> bytes:
    """RLP encoding of a byte string of at most 55 bytes."""
    if len(item) == 1 and item[0] < 0x80:
        return item
    return bytes((0x80 + len(item),)) + item


def _encode_uint(value: int) -> bytes:
    """RLP encoding of an unsigned integer of at most 55 bytes."""
    return _encode_string(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _list_prefix(payload_size: int) -> bytes:
    if payload_size < 56:
        return bytes((0xC0 + payload_size,))
    size_bytes = payload_size.to_bytes((payload_size.bit_length() + 7) // 8, "big")
    return bytes((0xF7 + len(size_bytes),)) + size_bytes


def _list_payload(encoded_list: bytes) -> bytes:
    """The payload of a canonical RLP list (already checked by the decoder)."""
    first = encoded_list[0]
    header_size = 1 if first < 0xF8 else 1 + first - 0xF7
    return encoded_list[header_size:]


def _rlp_list(raw: bytes, expected_fields: int, kind: str) -> list:
    try:
        fields = rlpcodec.decode(raw)
    except rlpcodec.RLPDecodingError as error:
        raise InvalidEncoding(f"{kind} transaction is not valid RLP: {error}") from None
    if type(fields) is not list:
        raise InvalidEncoding(f"{kind} transaction must be an RLP list, got a string")
    if len(fields) != expected_fields:
        raise InvalidEncoding(f"{kind} transaction must have {expected_fields} fields, got {len(fields)}")
    return fields


def _signature_values(r: int, s: int) -> None:
    if not 0 < r < SECP256K1_N:
        raise InvalidSignature(f"signature r must lie in [1, n-1], got {r}")
    if not 0 < s < SECP256K1_N:
        raise InvalidSignature(f"signature s must lie in [1, n-1], got {s}")
    if s > SECP256K1_HALF_N:
        raise HighS(f"signature s {s} is above n/2 (EIP-2 requires low s)")


# --- decoding and recovery ------------------------------------------------------------------


def decode_transaction(raw: bytes) -> Transaction:
    """Decode a signed legacy or EIP-1559 transaction and recover its sender.

    Checks, in order: size (OversizedTransaction), type byte (UnsupportedTransactionType),
    RLP shape and canonical fields (InvalidEncoding), an empty access list
    (AccessListNotAllowed), signature ranges (InvalidSignature, HighS), recovery
    (InvalidSignature). Validity against the chain and the sender's account is
    `validate_transaction`'s job.

    Spec: docs/spec/transactions.md#decoding
    """
    if type(raw) is not bytes:
        if not isinstance(raw, (bytearray, memoryview)):
            raise InvalidEncoding(f"a transaction is bytes, got {type(raw).__name__}")
        raw = bytes(raw)
    if len(raw) > MAX_TX_SIZE:
        raise OversizedTransaction(f"transaction is {len(raw)} bytes, at most {MAX_TX_SIZE} allowed")
    if not raw:
        raise InvalidEncoding("empty transaction")
    first = raw[0]
    if first >= 0xC0:
        return _decode_legacy(raw)
    if first == FEE_MARKET_TX_TYPE:
        return _decode_fee_market(raw)
    if first < 0x80:
        raise UnsupportedTransactionType(
            f"transaction type {first} is not accepted (only legacy and type 2)")
    raise InvalidEncoding(f"transaction starts with 0x{first:02x}: neither a type byte nor an RLP list")


def _decode_legacy(raw: bytes) -> Transaction:
    fields = _rlp_list(raw, _LEGACY_FIELDS, "legacy")
    nonce = _uint(fields[0], "nonce", _UINT64_BYTES)
    gas_price = _uint(fields[1], "gas_price")
    gas = _uint(fields[2], "gas", _UINT64_BYTES)
    to = _address_or_none(fields[3])
    value = _uint(fields[4], "value")
    data = _bytes_field(fields[5], "data")
    v = _uint(fields[6], "v")
    r = _uint(fields[7], "r")
    s = _uint(fields[8], "s")
    if v >= 35:
        chain_id: int | None = (v - 35) >> 1
        y_parity = (v - 35) & 1
    elif v == 27 or v == 28:
        chain_id = None
        y_parity = v - 27
    else:
        raise InvalidSignature(f"legacy v must be 27, 28 or chain_id * 2 + 35/36, got {v}")
    _signature_values(r, s)
    payload = _list_payload(raw)
    tail = (_encoded_string_size(fields[6]) + _encoded_string_size(fields[7])
            + _encoded_string_size(fields[8]))
    unsigned = payload[:len(payload) - tail]
    if chain_id is not None:
        unsigned += _encode_uint(chain_id) + b"\x80\x80"
    signing_hash = keccak256(_list_prefix(len(unsigned)) + unsigned)
    sender = recover_sender(signing_hash, y_parity, r, s)
    return Transaction(LEGACY_TX_TYPE, chain_id, nonce, gas_price, gas_price, gas, to, value,
                       data, v, r, s, sender, keccak256(raw), raw)


def _decode_fee_market(raw: bytes) -> Transaction:
    body = raw[1:]
    fields = _rlp_list(body, _FEE_MARKET_FIELDS, "type 2")
    chain_id = _uint(fields[0], "chain_id")
    nonce = _uint(fields[1], "nonce", _UINT64_BYTES)
    tip = _uint(fields[2], "max_priority_fee_per_gas")
    max_fee = _uint(fields[3], "max_fee_per_gas")
    gas = _uint(fields[4], "gas", _UINT64_BYTES)
    to = _address_or_none(fields[5])
    value = _uint(fields[6], "value")
    data = _bytes_field(fields[7], "data")
    access_list = fields[8]
    if type(access_list) is not list:
        raise InvalidEncoding("access_list must be an RLP list")
    if access_list:
        raise AccessListNotAllowed(
            f"access list has {len(access_list)} entries; only an empty one is accepted (no contracts)")
    y_parity = _uint(fields[9], "y_parity")
    r = _uint(fields[10], "r")
    s = _uint(fields[11], "s")
    if y_parity > 1:
        raise InvalidSignature(f"y_parity must be 0 or 1, got {y_parity}")
    _signature_values(r, s)
    payload = _list_payload(body)
    tail = (_encoded_string_size(fields[9]) + _encoded_string_size(fields[10])
            + _encoded_string_size(fields[11]))
    unsigned = payload[:len(payload) - tail]
    signing_hash = keccak256(b"\x02" + _list_prefix(len(unsigned)) + unsigned)
    sender = recover_sender(signing_hash, y_parity, r, s)
    return Transaction(FEE_MARKET_TX_TYPE, chain_id, nonce, tip, max_fee, gas, to, value, data,
                       y_parity, r, s, sender, keccak256(raw), raw)


_from_signature_and_message = PublicKey.from_signature_and_message


def recover_sender(signing_hash: bytes, y_parity: int, r: int, s: int) -> bytes:
    """The 20-byte address whose key signed `signing_hash` with (y_parity, r, s).

    Raises InvalidSignature when no public key can be recovered. Range and low-s checks
    are the caller's (`decode_transaction` does them first).

    Spec: docs/spec/transactions.md#sender-recovery
    """
    try:
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes((y_parity,))
        public_key = _from_signature_and_message(signature, signing_hash, hasher=None)
    except (ValueError, OverflowError, TypeError) as error:
        raise InvalidSignature(f"cannot recover the sender: {error}") from None
    return keccak256(public_key.format(compressed=False)[1:])[12:]


def compute_y_parity(tx_type: int, v: int) -> int:
    """The recovery id (0/1) of a transaction's signature from its type and v field.

    Spec: docs/spec/transactions.md#accepted-types
    """
    if tx_type == FEE_MARKET_TX_TYPE:
        return v
    return (v - 35) & 1 if v >= 35 else v - 27


def compute_signing_hash(tx: Transaction) -> bytes:
    """The hash the sender signed, rebuilt from the fields (slow path; decoding slices `raw`).

    Spec: docs/spec/transactions.md#sender-recovery
    """
    to = tx.to if tx.to is not None else b""
    if tx.tx_type == FEE_MARKET_TX_TYPE:
        fields = [tx.chain_id, tx.nonce, tx.max_priority_fee_per_gas, tx.max_fee_per_gas, tx.gas,
                  to, tx.value, tx.data, []]
        return keccak256(b"\x02" + rlpcodec.encode(fields))
    fields = [tx.nonce, tx.max_fee_per_gas, tx.gas, to, tx.value, tx.data]
    if tx.chain_id is not None:
        fields += [tx.chain_id, 0, 0]
    return keccak256(rlpcodec.encode(fields))


def sign_transaction(private_key: bytes | PrivateKey, *, chain_id: int, nonce: int, to: bytes | None,
                     value: int, max_fee_per_gas: int, max_priority_fee_per_gas: int | None = None,
                     gas: int = TX_GAS, data: bytes = b"", tx_type: int = FEE_MARKET_TX_TYPE) -> bytes:
    """The raw bytes of a transaction signed with `private_key` (coincurve, RFC 6979, low s).

    Nothing is validated: devnet fault injection and tests sign invalid transactions with it.
    Legacy transactions use `max_fee_per_gas` as the gas price and EIP-155. The bytes equal
    eth-account's for the same fields and key. Clients may equally use eth-account.
    Pass a coincurve `PrivateKey` to save deriving it again when signing many transactions.

    Spec: docs/spec/transactions.md#accepted-types
    """
    to_field = to if to is not None else b""
    key = private_key if isinstance(private_key, PrivateKey) else PrivateKey(private_key)
    if tx_type == FEE_MARKET_TX_TYPE:
        tip = max_fee_per_gas if max_priority_fee_per_gas is None else max_priority_fee_per_gas
        unsigned = [chain_id, nonce, tip, max_fee_per_gas, gas, to_field, value, data, []]
        signature = key.sign_recoverable(keccak256(b"\x02" + rlpcodec.encode(unsigned)), hasher=None)
        r, s, y_parity = (int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big"),
                          signature[64])
        return b"\x02" + rlpcodec.encode(unsigned + [y_parity, r, s])
    if tx_type == LEGACY_TX_TYPE:
        unsigned = [nonce, max_fee_per_gas, gas, to_field, value, data]
        signature = key.sign_recoverable(keccak256(rlpcodec.encode(unsigned + [chain_id, 0, 0])), hasher=None)
        r, s, y_parity = (int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big"),
                          signature[64])
        return rlpcodec.encode(unsigned + [chain_id * 2 + 35 + y_parity, r, s])
    raise UnsupportedTransactionType(f"cannot sign transaction type {tx_type}")


# --- fees -----------------------------------------------------------------------------------


def compute_effective_gas_price(tx: Transaction, base_fee_wei: int) -> int:
    """Price per gas the sender pays: legacy gas_price; type 2 min(max_fee, base_fee + tip).

    Spec: docs/spec/transactions.md#fees
    """
    if tx.tx_type == FEE_MARKET_TX_TYPE:
        return min(tx.max_fee_per_gas, base_fee_wei + tx.max_priority_fee_per_gas)
    return tx.max_fee_per_gas


def compute_max_cost(tx: Transaction) -> int:
    """The most the transaction can cost its sender: `value + gas * max_fee_per_gas`.

    Spec: docs/spec/transactions.md#fees
    """
    return tx.value + tx.gas * tx.max_fee_per_gas


def compute_fee(tx: Transaction, base_fee_wei: int) -> int:
    """The fee charged to the sender and paid to the producer: 21,000 * effective gas price.

    Spec: docs/spec/transactions.md#fees
    """
    return TX_GAS * compute_effective_gas_price(tx, base_fee_wei)


# --- validity -------------------------------------------------------------------------------


def validate_transaction_static(tx: Transaction, params: ChainParams) -> None:
    """Raise the first rule, of those needing no state, that `tx` breaks.

    Spec: docs/spec/transactions.md#validity
    """
    if len(tx.raw) > MAX_TX_SIZE:
        raise OversizedTransaction(f"transaction is {len(tx.raw)} bytes, at most {MAX_TX_SIZE} allowed")
    if tx.chain_id != params.chain_id:
        if tx.chain_id is None:
            raise WrongChainId(f"transaction has no chain id (pre-EIP-155); chain id {params.chain_id} required")
        raise WrongChainId(f"transaction chain id {tx.chain_id} != {params.chain_id}")
    if tx.to is None:
        raise ContractCreationNotAllowed("transaction has no recipient (contract creation)")
    if tx.data:
        raise DataNotAllowed(f"transaction carries {len(tx.data)} bytes of data; only value transfers")
    if tx.gas < TX_GAS:
        raise IntrinsicGasTooLow(f"gas {tx.gas} < {TX_GAS}")
    if tx.max_priority_fee_per_gas > tx.max_fee_per_gas:
        raise TipAboveFeeCap(
            f"max_priority_fee_per_gas {tx.max_priority_fee_per_gas} > max_fee_per_gas {tx.max_fee_per_gas}")
    if tx.max_fee_per_gas < params.base_fee_wei:
        raise FeeTooLow(f"max_fee_per_gas {tx.max_fee_per_gas} < base fee {params.base_fee_wei}")


def validate_transaction(tx: Transaction, account: AccountLike | None, params: ChainParams) -> None:
    """Raise the first rule `tx` breaks when applied to the sender's `account` (None: empty).

    Static rules first, then the nonce (exactly the account's), then the balance
    (at least `value + gas * max_fee_per_gas`).

    Spec: docs/spec/transactions.md#validity
    """
    validate_transaction_static(tx, params)
    nonce = account.nonce if account is not None else 0
    balance = account.balance if account is not None else 0
    if tx.nonce != nonce:
        error = NonceTooLow if tx.nonce < nonce else NonceTooHigh
        raise error(f"nonce {tx.nonce} != sender's next nonce {nonce}", expected=nonce, got=tx.nonce)
    max_cost = compute_max_cost(tx)
    if balance < max_cost:
        raise InsufficientBalance(
            f"balance {balance} < value + gas * max_fee_per_gas = {max_cost} "
            f"(0x{tx.sender.hex()})")


# --- JSON-RPC -------------------------------------------------------------------------------


def tx_to_json(tx: Transaction, base_fee_wei: int | None = None) -> dict[str, Any]:
    """The Ethereum JSON-RPC transaction object (as geth returns it), without block fields.

    `gasPrice` of a type 2 transaction is its fee cap while pending, and the effective gas
    price when `base_fee_wei` is given (included). Legacy transactions carry no EIP-1559
    fields; the caller adds blockHash, blockNumber and transactionIndex.

    Spec: docs/spec/transactions.md#json-rpc
    """
    if tx.tx_type == FEE_MARKET_TX_TYPE and base_fee_wei is not None:
        gas_price = compute_effective_gas_price(tx, base_fee_wei)
    else:
        gas_price = tx.max_fee_per_gas
    result: dict[str, Any] = {
        "hash": "0x" + tx.hash.hex(),
        "type": hex(tx.tx_type),
        "nonce": hex(tx.nonce),
        "from": "0x" + tx.sender.hex(),
        "to": "0x" + tx.to.hex() if tx.to is not None else None,
        "value": hex(tx.value),
        "gas": hex(tx.gas),
        "gasPrice": hex(gas_price),
        "input": "0x" + tx.data.hex(),
        "v": hex(tx.v),
        "r": hex(tx.r),
        "s": hex(tx.s),
    }
    if tx.chain_id is not None:
        result["chainId"] = hex(tx.chain_id)
    if tx.tx_type == FEE_MARKET_TX_TYPE:
        result["maxFeePerGas"] = hex(tx.max_fee_per_gas)
        result["maxPriorityFeePerGas"] = hex(tx.max_priority_fee_per_gas)
        result["accessList"] = []
        result["yParity"] = hex(tx.v)
    return result
