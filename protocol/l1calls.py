"""Signed L1 contract calls: EIP-191 (personal_sign) over a canonical, human-readable text.

Every state-changing call to the L1 mock names its method, its sender, the sender's next L1
call nonce and its arguments, and is signed by the sender's Ethereum key. The chain id and
the nonce in the signed text make a call impossible to replay on another L1 or twice; the
arguments enter the text as the keccak of their canonical JSON, so a wallet shows short,
readable text whatever the size of the call (a batch of blocks, a fraud proof).

Recovery uses coincurve (about 50 us); eth-account is the signer here and the test oracle.

Spec: docs/spec/l1-calls.md
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson
from coincurve import PrivateKey, PublicKey

from .constants import ADDRESS_SIZE, SECP256K1_HALF_N, SECP256K1_N
from .exceptions import InvalidEncoding, InvalidSignature
from .hashing import keccak256

L1_CALL_SIGNATURE_SIZE = 65
"""r (32) || s (32) || v (1), v in {27, 28} (0 and 1 are accepted too)."""

MAX_U64 = 2**64 - 1

L1_METHODS = frozenset({
    # token (DESIGN.md section 6)
    "transfer",
    # locking pool
    "register_sequencer", "update_sequencer", "delegate", "undelegate", "withdraw",
    "claim_rewards", "unjail", "register_ranger", "unregister_ranger",
    # batch inbox, queue and bridge
    "submit_batch", "deposit", "force_tx", "claim_withdrawal",
    # fraud proofs and ranger work
    "submit_fraud_proof", "report_verified",
})
"""Every state-changing L1 method. A call naming another method does not decode; a new L1
method is added here (and to docs/spec/l1-calls.md) before the L1 mock serves it."""

_METHOD_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")
_BODY_KEYS = frozenset({"method", "sender", "nonce", "args", "signature"})
_MAX_ARGS_DEPTH = 32


@dataclass(frozen=True, slots=True)
class L1Call:
    """One signed, state-changing call to the L1 mock."""

    method: str
    """The contract method, one of L1_METHODS (e.g. "transfer", "submit_batch")."""
    sender: bytes
    """20-byte Ethereum address that signed the call and pays for it."""
    nonce: int
    """The sender's L1 call nonce: must equal the account's next nonce on L1."""
    args: dict[str, Any]
    """JSON-able arguments: str / int / bool / list / dict; bytes as 0x-hex strings, token
    amounts as decimal strings (integers beyond 64 bits do not encode)."""
    signature: bytes
    """65 bytes r || s || v: EIP-191 signature of `compute_call_message(...)`."""


def canonical_args(args: dict[str, Any]) -> bytes:
    """The canonical JSON of `args`: orjson with keys sorted at every level, no spaces.

    Raises InvalidEncoding for what JSON cannot carry exactly (non-string keys, floats,
    integers beyond 64 bits, bytes, None...).
    Spec: docs/spec/l1-calls.md#canonical-arguments
    """
    if not isinstance(args, dict):
        raise InvalidEncoding(f"L1 call args must be an object, got {type(args).__name__}")
    _check_json_value(args, "args", 0)
    try:
        return orjson.dumps(args, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError) as error:
        raise InvalidEncoding(f"L1 call args do not encode: {error}") from None


def compute_call_message(l1_chain_id: int, method: str, sender: bytes, nonce: int,
                         args: dict[str, Any]) -> str:
    """The exact text the sender signs with EIP-191 personal_sign.

    Spec: docs/spec/l1-calls.md#message
    """
    args_hash = keccak256(canonical_args(args))
    return (
        "seqnet L1 call\n"
        f"chain: {l1_chain_id}\n"
        f"sender: {compute_checksum_address(sender)}\n"
        f"nonce: {nonce}\n"
        f"method: {method}\n"
        f"args: 0x{args_hash.hex()}"
    )


def compute_checksum_address(address: bytes) -> str:
    """The EIP-55 mixed-case form of a 20-byte address ("0xf39Fd6e5...").

    Spec: docs/spec/l1-calls.md#message
    """
    if len(address) != ADDRESS_SIZE:
        raise InvalidEncoding(f"an address is {ADDRESS_SIZE} bytes, got {len(address)}")
    digits = address.hex()
    nibbles = keccak256(digits.encode()).hex()
    return "0x" + "".join(char.upper() if int(nibble, 16) >= 8 else char
                          for char, nibble in zip(digits, nibbles))


def compute_call_message_hash(l1_chain_id: int, method: str, sender: bytes, nonce: int,
                              args: dict[str, Any]) -> bytes:
    """keccak("\\x19Ethereum Signed Message:\\n" + len + message): the digest that is signed.

    Spec: docs/spec/l1-calls.md#message
    """
    text = compute_call_message(l1_chain_id, method, sender, nonce, args).encode()
    return keccak256(b"\x19Ethereum Signed Message:\n" + str(len(text)).encode() + text)


def sign_l1_call(private_key: bytes, l1_chain_id: int, method: str, nonce: int,
                 args: dict[str, Any]) -> L1Call:
    """Sign a call as the account of `private_key` (32-byte secp256k1 secret).

    Spec: docs/spec/l1-calls.md#message
    """
    _check_method(method)
    _check_nonce(nonce)
    # coincurve rather than eth-account (the tests' oracle): importing eth-account costs
    # seconds at every process start. libsecp256k1 signs with RFC 6979 and low s, as it does.
    from .accounts import address_of

    sender = address_of(private_key)
    digest = compute_call_message_hash(l1_chain_id, method, sender, nonce, args)
    recoverable = PrivateKey(private_key).sign_recoverable(digest, hasher=None)
    signature = recoverable[:64] + bytes([27 + recoverable[64]])
    return L1Call(method=method, sender=sender, nonce=nonce, args=args, signature=signature)


def recover_l1_call_sender(call: L1Call, l1_chain_id: int) -> bytes:
    """The address that signed `call` on `l1_chain_id`; it is always `call.sender`.

    Raises InvalidSignature when the signature is malformed (length, v, r or s out of range,
    high s) or was made by another key, for another chain, nonce, method or arguments.
    Spec: docs/spec/l1-calls.md#verification
    """
    signature = call.signature
    if len(signature) != L1_CALL_SIGNATURE_SIZE:
        raise InvalidSignature(
            f"L1 call signature must be {L1_CALL_SIGNATURE_SIZE} bytes, got {len(signature)}")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v in (27, 28):
        v -= 27
    if v not in (0, 1):
        raise InvalidSignature(f"L1 call signature v must be 27 or 28, got {signature[64]}")
    if not 0 < r < SECP256K1_N:
        raise InvalidSignature("L1 call signature r is out of range")
    if not 0 < s <= SECP256K1_HALF_N:
        raise InvalidSignature("L1 call signature s is zero or above secp256k1 n/2 (EIP-2)")
    try:
        digest = compute_call_message_hash(l1_chain_id, call.method, call.sender, call.nonce,
                                           call.args)
    except InvalidEncoding as error:
        raise InvalidSignature(f"L1 call does not encode: {error}") from None
    try:
        public_key = PublicKey.from_signature_and_message(signature[:64] + bytes([v]), digest,
                                                         hasher=None)
    except Exception:  # noqa: BLE001 - coincurve raises ValueError or its own errors
        raise InvalidSignature("L1 call signature does not recover a public key") from None
    recovered = keccak256(public_key.format(compressed=False)[1:])[-20:]
    if recovered != call.sender:
        raise InvalidSignature(
            f"L1 call {call.method} nonce {call.nonce} is signed by 0x{recovered.hex()}, "
            f"not by its sender 0x{call.sender.hex()} (or for another chain than {l1_chain_id})")
    return recovered


def encode_l1_call(call: L1Call) -> dict[str, Any]:
    """The JSON body of a call: {"method", "sender", "nonce", "args", "signature"}.

    Spec: docs/spec/l1-calls.md#json-body
    """
    return {
        "method": call.method,
        "sender": "0x" + call.sender.hex(),
        "nonce": call.nonce,
        "args": call.args,
        "signature": "0x" + call.signature.hex(),
    }


def decode_l1_call(body: object) -> L1Call:
    """Parse the JSON body of a call; raises InvalidEncoding saying what is wrong.

    Checks shapes only; the signature is checked by `recover_l1_call_sender`.
    Spec: docs/spec/l1-calls.md#json-body
    """
    if not isinstance(body, dict):
        raise InvalidEncoding(f"L1 call must be a JSON object, got {type(body).__name__}")
    missing = sorted(_BODY_KEYS - body.keys())
    if missing:
        raise InvalidEncoding(f"L1 call is missing {', '.join(missing)}")
    unknown = sorted(str(key) for key in body.keys() - _BODY_KEYS)
    if unknown:
        raise InvalidEncoding(f"L1 call has unknown keys {', '.join(unknown)}")
    method = body["method"]
    if not isinstance(method, str):
        raise InvalidEncoding(f"L1 call method must be a string, got {type(method).__name__}")
    _check_method(method)
    sender = _decode_hex(body["sender"], "sender", ADDRESS_SIZE)
    nonce = body["nonce"]
    if not isinstance(nonce, int) or isinstance(nonce, bool):
        raise InvalidEncoding(f"L1 call nonce must be an integer, got {type(nonce).__name__}")
    _check_nonce(nonce)
    args = body["args"]
    canonical_args(args)
    signature = _decode_hex(body["signature"], "signature", L1_CALL_SIGNATURE_SIZE)
    return L1Call(method=method, sender=sender, nonce=nonce, args=args, signature=signature)


def _check_method(method: str) -> None:
    if method not in L1_METHODS:
        shown = method if _METHOD_PATTERN.fullmatch(method) else repr(method[:64])
        raise InvalidEncoding(f"unknown L1 method {shown}; known: {', '.join(sorted(L1_METHODS))}")


def _check_nonce(nonce: int) -> None:
    if not 0 <= nonce <= MAX_U64:
        raise InvalidEncoding(f"L1 call nonce must lie in [0, 2**64), got {nonce}")


def _decode_hex(value: object, what: str, size: int) -> bytes:
    if not isinstance(value, str):
        raise InvalidEncoding(f"L1 call {what} must be a 0x-hex string, got {type(value).__name__}")
    if not value.startswith(("0x", "0X")):
        raise InvalidEncoding(f"L1 call {what} must start with 0x")
    digits = value[2:]
    if len(digits) != 2 * size:
        raise InvalidEncoding(f"L1 call {what} must be {size} bytes, got {len(digits) / 2:g}")
    try:
        return bytes.fromhex(digits)
    except ValueError:
        raise InvalidEncoding(f"L1 call {what} is not valid hex") from None


def _check_json_value(value: object, path: str, depth: int) -> None:
    if depth > _MAX_ARGS_DEPTH:
        raise InvalidEncoding(f"L1 call {path} is nested deeper than {_MAX_ARGS_DEPTH} levels")
    if isinstance(value, str) or isinstance(value, bool):
        return
    if isinstance(value, int):
        if not -(2**63) <= value <= MAX_U64:
            raise InvalidEncoding(
                f"L1 call {path} is an integer beyond 64 bits: send amounts as decimal strings")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidEncoding(f"L1 call {path} has a non-string key {key!r}")
            _check_json_value(item, f"{path}.{key}", depth + 1)
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_json_value(item, f"{path}[{index}]", depth + 1)
        return
    if isinstance(value, float):
        raise InvalidEncoding(f"L1 call {path} is a float: send amounts as decimal strings")
    raise InvalidEncoding(
        f"L1 call {path} has type {type(value).__name__}; allowed: str, int, bool, list, object")
