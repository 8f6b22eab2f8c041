"""What every command shares: where the services are, which key signs, how to print.

Endpoints, in order of precedence: the command's `--l1` / `--rpc` / `--ranger` flags, the
environment (SEQNET_L1, SEQNET_RPC, SEQNET_RANGER), `<dir>/endpoints.json` written by
`seqnet devnet up`, and last the ports docker-compose publishes (L1 8600, seq1 8545, ranger1
8700), so the commands work unchanged against `docker-compose up`.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer
from rich.console import Console

from protocol.accounts import address_of, dev_accounts, parse_address, to_checksum
from protocol.constants import TOKEN
from protocol.exceptions import ProtocolError

from . import http
from .http import ClientError
from .topology import L1_PORT, RANGER_PORT, SEQUENCER_PORT

DEFAULT_DIR = Path(".devnet")

console = Console()
err_console = Console(stderr=True)
if not console.is_terminal:  # pipes and tests: wide enough for addresses and keys in tables
    console = Console(width=200)
if not err_console.is_terminal:
    err_console = Console(stderr=True, width=200)

# --- options every command takes -------------------------------------------------------------

DirOpt = Annotated[Path, typer.Option("--dir", envvar="SEQNET_DIR",
                                      help="Devnet directory (endpoints.json, receipts, wallet).")]
L1Opt = Annotated[Optional[str], typer.Option("--l1", envvar="SEQNET_L1",
                                              help="L1 mock URL (default: from endpoints.json).")]
RpcOpt = Annotated[Optional[str], typer.Option("--rpc", envvar="SEQNET_RPC",
                                               help="Sequencer JSON-RPC URL (default: from endpoints.json).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
FromOpt = Annotated[Optional[str], typer.Option(
    "--from", help="Sender: an address or name in the wallet, or a dev account index (0-9). "
                   "Default: dev account 0.")]
KeyOpt = Annotated[Optional[str], typer.Option("--key", envvar="SEQNET_KEY",
                                               help="Sender's private key (0x-hex); overrides --from.")]


class Env:
    """The resolved command environment."""

    def __init__(self, directory: Path = DEFAULT_DIR, l1: str | None = None, rpc: str | None = None,
                 as_json: bool = False, ranger: str | None = None) -> None:
        self.directory = Path(directory)
        self._l1 = l1
        self._rpc = rpc
        self._ranger = ranger or os.environ.get("SEQNET_RANGER")
        self.as_json = as_json
        self._endpoints: dict | None = None
        self._l1_status: dict | None = None
        self._chain_id: int | None = None

    # --- endpoints --------------------------------------------------------------------------

    @property
    def endpoints(self) -> dict[str, Any]:
        if self._endpoints is None:
            path = self.directory / "endpoints.json"
            try:
                self._endpoints = json.loads(path.read_text())
            except FileNotFoundError:
                self._endpoints = {}
            except (OSError, ValueError) as error:
                raise ClientError(f"cannot read {path}: {error}") from None
        return self._endpoints

    @property
    def l1_url(self) -> str:
        return (self._l1 or self.endpoints.get("l1") or f"http://127.0.0.1:{L1_PORT}").rstrip("/")

    @property
    def rpc_url(self) -> str:
        if self._rpc:
            return self._rpc.rstrip("/")
        sequencers = self.endpoints.get("sequencers") or []
        for seq in sequencers:
            if seq.get("running", True) and not seq.get("faults"):
                return seq["rpc"]
        if sequencers:
            return sequencers[0]["rpc"]
        return f"http://127.0.0.1:{SEQUENCER_PORT}/rpc"

    @property
    def rest_url(self) -> str:
        """The REST base of the sequencer behind `rpc_url`."""
        url = self.rpc_url
        return url[: -len("/rpc")] if url.endswith("/rpc") else url

    @property
    def sequencer_rest_urls(self) -> list[tuple[str, str]]:
        """(name, REST base) of every sequencer endpoints.json knows, else the one of --rpc."""
        if self._rpc or not self.endpoints.get("sequencers"):
            return [("seq", self.rest_url)]
        return [(s["name"], s["rest"]) for s in self.endpoints["sequencers"]]

    @property
    def ranger_urls(self) -> list[str]:
        if self._ranger:
            return [self._ranger.rstrip("/")]
        if self.endpoints:
            return [r["rest"] for r in self.endpoints.get("rangers", []) if r.get("running", True)]
        return [f"http://127.0.0.1:{RANGER_PORT}"]

    def names_by_node_key(self) -> dict[str, str]:
        """0x node key -> devnet name (seq1...), from endpoints.json."""
        names = {}
        for kind in ("sequencers", "rangers"):
            for item in self.endpoints.get(kind, []):
                if item.get("node_key"):
                    names[item["node_key"].lower()] = item["name"]
        return names

    # --- chain facts ------------------------------------------------------------------------

    def l1_status(self) -> dict[str, Any]:
        if self._l1_status is None:
            self._l1_status = http.get(f"{self.l1_url}/status")
        return self._l1_status

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            if self.endpoints.get("chain_id") and not self._rpc:
                self._chain_id = int(self.endpoints["chain_id"])
            else:
                self._chain_id = int(http.rpc(self.rpc_url, "eth_chainId"), 16)
        return self._chain_id

    @property
    def l1_chain_id(self) -> int:
        if self.endpoints.get("l1_chain_id") and not self._l1:
            return int(self.endpoints["l1_chain_id"])
        return int(self.l1_status()["l1_chain_id"])

    # --- L1 calls ---------------------------------------------------------------------------

    def l1_nonce(self, address: bytes) -> int:
        return int(http.get(f"{self.l1_url}/accounts/0x{address.hex()}")["nonce"])

    def l1_call(self, private_key: bytes, method: str, args: dict[str, Any]) -> dict[str, Any]:
        """Sign `method(args)` with the sender's next L1 nonce and POST it to /calls."""
        from protocol.l1calls import encode_l1_call, sign_l1_call  # imports eth-account: slow

        sender = address_of(private_key)
        call = sign_l1_call(private_key, self.l1_chain_id, method, self.l1_nonce(sender), args)
        return http.post(f"{self.l1_url}/calls", encode_l1_call(call))

    # --- keys -------------------------------------------------------------------------------

    @property
    def wallet_path(self) -> Path:
        return self.directory / "wallet.json"

    def wallet(self) -> list[dict[str, str]]:
        try:
            data = json.loads(self.wallet_path.read_text())
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as error:
            raise ClientError(f"cannot read {self.wallet_path}: {error}") from None
        return list(data.get("accounts", []))

    def save_wallet(self, accounts: list[dict[str, str]]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.wallet_path.write_text(json.dumps({"accounts": accounts}, indent=2) + "\n")
        os.chmod(self.wallet_path, 0o600)

    def resolve_signer(self, sender: str | None, key: str | None) -> tuple[bytes, bytes]:
        """(address, private key) of --key, else --from, else dev account 0."""
        if key:
            private_key = parse_private_key(key)
            return address_of(private_key), private_key
        if sender is None:
            account = dev_accounts(10)[0]
            return account.address, account.private_key
        if sender.isdigit():
            index = int(sender)
            if not 0 <= index <= 9:
                raise ClientError(f"--from {sender}: dev account indexes are 0-9")
            account = dev_accounts(10)[index]
            return account.address, account.private_key
        for entry in self.wallet():
            if entry.get("name") == sender or entry["address"].lower() == sender.lower():
                private_key = parse_private_key(entry["private_key"])
                return address_of(private_key), private_key
        try:
            address = parse_address(sender)
        except ProtocolError as error:
            raise ClientError(f"--from {sender}: not a wallet name, dev index or address ({error})") from None
        for account in dev_accounts(10):
            if account.address == address:
                return account.address, account.private_key
        raise ClientError(f"--from {sender}: no key for this address (dev accounts and "
                          f"{self.wallet_path}); pass --key")

    def resolve_sequencer(self, ref: str) -> str:
        """A sequencer reference for L1 calls: "seq2" (endpoints.json), a node key or an
        operator address, as the L1 accepts both."""
        ref = ref.strip()
        for seq in self.endpoints.get("sequencers", []):
            if seq["name"] == ref:
                return seq["node_key"]
        if ref.startswith("seq") and ref[3:].isdigit():
            # Not in endpoints.json (compose): ask the L1 and match the devnet's node keys.
            from protocol.chainbuilder import devnet_node_key

            return "0x" + devnet_node_key(int(ref[3:]) - 1).public.hex()
        digits = ref[2:] if ref.startswith(("0x", "0X")) else ""
        if len(digits) == 64:
            try:
                bytes.fromhex(digits)
            except ValueError:
                raise ClientError(f"sequencer {ref!r} is not hex") from None
            return "0x" + digits.lower()
        try:
            return "0x" + parse_address(ref).hex()
        except ProtocolError:
            raise ClientError(f"sequencer {ref!r}: use a name (seq1), a node key (0x + 64 hex) "
                              f"or an operator address") from None

    # --- output -----------------------------------------------------------------------------

    def emit(self, data: Any, render: Callable[[], None] | None = None) -> None:
        """Print `data` as JSON with --json, else call `render` (or print data plainly)."""
        if self.as_json or render is None:
            sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
            sys.stdout.flush()
        else:
            render()

    def say(self, message: str) -> None:
        """Progress for people: to stderr with --json so stdout stays parseable."""
        (err_console if self.as_json else console).print(message, highlight=False)


# --- parsing ---------------------------------------------------------------------------------

UNITS = {"wei": 1, "gwei": 10**9, "eth": TOKEN, "ether": TOKEN, "token": TOKEN, "tokens": TOKEN}


def parse_amount(text: str, default_unit: str = "eth") -> int:
    """"1.5" (tokens/ether), "1.5eth", "2 gwei", "100wei" -> wei."""
    raw = text.strip().lower().replace("_", "").replace(",", "")
    unit = default_unit
    for name in sorted(UNITS, key=len, reverse=True):
        if raw.endswith(name):
            unit, raw = name, raw[: -len(name)].strip()
            break
    try:
        value = Decimal(raw) * UNITS[unit]
    except InvalidOperation:
        raise ClientError(f"amount {text!r} is not a number (e.g. 1.5, 2gwei, 100wei)") from None
    if value < 0 or value != value.to_integral_value():
        raise ClientError(f"amount {text!r} is negative or finer than 1 wei")
    return int(value)


def format_tokens(wei: int | str, places: int = 4) -> str:
    value = Decimal(int(wei)) / TOKEN
    text = f"{value:,.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def parse_private_key(text: str) -> bytes:
    digits = text.strip()
    digits = digits[2:] if digits.startswith(("0x", "0X")) else digits
    try:
        key = bytes.fromhex(digits)
        address_of(key)
    except ValueError:
        raise ClientError("a private key is 32 bytes of hex (0x + 64 digits)") from None
    return key


def parse_hash(text: str, what: str = "hash") -> str:
    digits = text[2:] if text.startswith(("0x", "0X")) else text
    try:
        if len(bytes.fromhex(digits)) != 32:
            raise ValueError
    except ValueError:
        raise ClientError(f"{what} {text!r} must be 32 bytes of hex (0x + 64 digits)") from None
    return "0x" + digits.lower()


def checksum(address_hex: str) -> str:
    try:
        return to_checksum(bytes.fromhex(address_hex[2:]))
    except (ValueError, ProtocolError):
        return address_hex


def new_private_key() -> bytes:
    while True:
        key = secrets.token_bytes(32)
        try:
            address_of(key)
            return key
        except ValueError:
            continue
