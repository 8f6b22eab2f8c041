"""L2 commands: `seqnet balance`, `send`, `tx`, `block`, `receipt verify`, and the transaction
progress they share (receipted -> unsafe -> attested -> safe -> finalized)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from protocol.accounts import parse_address, to_checksum
from protocol.exceptions import ProtocolError
from protocol.receipts import is_receipt_violated, receipt_from_json, verify_receipt
from protocol.transactions import sign_transaction

from .. import http
from ..context import (
    DEFAULT_DIR,
    DirOpt,
    Env,
    FromOpt,
    JsonOpt,
    KeyOpt,
    L1Opt,
    RpcOpt,
    checksum,
    console,
    format_tokens,
    parse_amount,
    parse_hash,
)
from ..http import ClientError, RemoteError

LABELS = ("receipted", "unsafe", "attested", "safe", "finalized")
"""How far a transaction has come; the last four are OP Stack's head labels (DESIGN.md 4)."""
WAIT_CHOICES = ("none", "receipt", "unsafe", "attested", "safe", "finalized")

receipt_app = typer.Typer(help="Soft-confirmation receipts.", no_args_is_help=True)


def _address(text: str, what: str) -> bytes:
    try:
        return parse_address(text)
    except ProtocolError as error:
        raise ClientError(f"{what}: {error}") from None


def _int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value
    text = str(value)
    return int(text, 16) if text.startswith("0x") else int(text)


# --- balance ---------------------------------------------------------------------------------

def balance(
    address: Annotated[str, typer.Argument(help="0x address (or a dev account index 0-9).")],
    directory: DirOpt = DEFAULT_DIR, l1: L1Opt = None, rpc: RpcOpt = None, as_json: JsonOpt = False,
) -> None:
    """L2 balance and nonce of ADDRESS, and its L1 token balance."""
    env = Env(directory, l1, rpc, as_json)
    if address.isdigit():
        address_bytes, _ = env.resolve_signer(address, None)
    else:
        address_bytes = _address(address, "address")
    hex_address = "0x" + address_bytes.hex()
    result: dict[str, Any] = {"address": to_checksum(address_bytes)}
    errors = []
    try:
        result["l2"] = {"balance": str(_int(http.rpc(env.rpc_url, "eth_getBalance", [hex_address, "latest"]))),
                        "nonce": _int(http.rpc(env.rpc_url, "eth_getTransactionCount", [hex_address, "latest"]))}
    except ClientError as error:
        errors.append(str(error))
    try:
        account = http.get(f"{env.l1_url}/accounts/{hex_address}")
        result["l1"] = {"balance": account["balance"], "nonce": account["nonce"],
                        "pending_rewards": account.get("pending_rewards", "0"),
                        "staked": str(sum(int(s["amount"]) for s in account.get("stakes", []))),
                        "unbonding": str(sum(int(u["amount"]) for u in account.get("unbonding", [])))}
    except ClientError as error:
        errors.append(str(error))
    if "l2" not in result and "l1" not in result:
        raise ClientError(errors[0])

    def render() -> None:
        console.print(f"[bold]{result['address']}[/bold]", highlight=False)
        if "l2" in result:
            console.print(f"  L2  {format_tokens(result['l2']['balance'], 6)} ETH   nonce {result['l2']['nonce']}",
                          highlight=False)
        if "l1" in result:
            l1 = result["l1"]
            console.print(f"  L1  {format_tokens(l1['balance'], 6)} tokens   staked {format_tokens(l1['staked'])}"
                          + (f"   unbonding {format_tokens(l1['unbonding'])}" if int(l1["unbonding"]) else "")
                          + f"   pending rewards {format_tokens(l1['pending_rewards'], 6)}", highlight=False)
        for error in errors:
            console.print(f"  [yellow]{error}[/yellow]")

    env.emit(result, render)


# --- send ------------------------------------------------------------------------------------

def build_transfer(env: Env, private_key: bytes, sender: bytes, to: bytes, value: int,
                   nonce: int | None = None) -> tuple[bytes, int]:
    """A signed EIP-1559 transfer and its nonce (the sender's pending nonce by default)."""
    if nonce is None:
        nonce = _int(http.rpc(env.rpc_url, "eth_getTransactionCount", ["0x" + sender.hex(), "pending"]))
    try:
        gas_price = _int(http.rpc(env.rpc_url, "eth_gasPrice")) or 10**9
    except RemoteError:
        gas_price = 10**9
    raw = sign_transaction(private_key, chain_id=env.chain_id, nonce=nonce, to=to, value=value,
                           max_fee_per_gas=2 * gas_price, max_priority_fee_per_gas=gas_price)
    return raw, nonce


def submit(env: Env, raw: bytes) -> tuple[str, dict | None]:
    """Send a raw transaction; returns its hash and the leader's signed receipt (or None).

    REST POST /txs answers with the receipt at once; JSON-RPC (eth_sendRawTransaction, then
    seq_getReceipt) is the fallback for a node without that route."""
    try:
        answer = http.post(f"{env.rest_url}/txs", {"raw": "0x" + raw.hex()})
        return answer["tx_hash"], answer.get("receipt")
    except RemoteError as error:
        if error.status not in (404, 405):
            raise
    tx_hash = http.rpc(env.rpc_url, "eth_sendRawTransaction", ["0x" + raw.hex()])
    receipt = None
    try:
        receipt = http.rpc(env.rpc_url, "seq_getReceipt", [tx_hash])
    except RemoteError:
        pass
    return tx_hash, receipt


def keep_receipt(env: Env, record: dict[str, Any]) -> Path:
    """Save the transaction and its receipt under <dir>/receipts/<hash>.json."""
    folder = env.directory / "receipts"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record['hash']}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def hand_to_rangers(env: Env, receipt: dict) -> list[str]:
    """POST the receipt to every ranger; returns one line per ranger."""
    outcomes = []
    for url in env.ranger_urls:
        try:
            http.post(f"{url}/receipts", receipt, timeout_s=5)
            outcomes.append(f"handed to ranger {url}")
        except ClientError as error:
            outcomes.append(f"ranger {url}: {error}")
    return outcomes


def get_progress(env: Env, tx_hash: str) -> dict[str, Any]:
    """Where a transaction stands: its label, block, and L1 batch."""
    progress: dict[str, Any] = {"hash": tx_hash, "label": None, "block": None, "batch": None}
    tx = http.rpc(env.rpc_url, "eth_getTransactionByHash", [tx_hash])
    if tx is None:
        return progress
    progress["label"] = "receipted"
    progress["tx"] = tx
    receipt = http.rpc(env.rpc_url, "eth_getTransactionReceipt", [tx_hash])
    number = _int((receipt or {}).get("blockNumber")) if receipt else _int(tx.get("blockNumber"))
    if number is None:
        return progress
    block_hash = (receipt or tx).get("blockHash")
    progress["label"] = "unsafe"
    progress["block"] = {"number": number, "hash": block_hash,
                         "status": (receipt or {}).get("status")}
    # The sequencer's own view (REST GET /txs/{hash}: the head label of its block).
    rest_label = None
    try:
        rest = http.get(f"{env.rest_url}/txs/{tx_hash}", timeout_s=3)
        rest_label = rest.get("label") if isinstance(rest, dict) else None
    except ClientError:
        pass
    if rest_label in LABELS:
        progress["label"] = max(progress["label"], rest_label, key=LABELS.index)
    else:
        # No REST view: a child block carries its parent's QC, so a later block means attested.
        try:
            latest = _int(http.rpc(env.rpc_url, "eth_blockNumber"))
            if latest is not None and latest > number:
                progress["label"] = max(progress["label"], "attested", key=LABELS.index)
        except ClientError:
            pass
    # L1 is the final word on safe and finalized.
    try:
        l1_block = http.get(f"{env.l1_url}/blocks/{number}", timeout_s=3)
        if l1_block.get("hash", "").lower() == str(block_hash).lower():
            progress["batch"] = {"batch_id": l1_block.get("batch_id"), "l1_block": l1_block.get("l1_block"),
                                 "status": l1_block.get("status"),
                                 "finalized_l1_block": l1_block.get("finalized_l1_block"),
                                 "verified_by": l1_block.get("verified_by", [])}
            if l1_block.get("status") == "accepted":
                progress["label"] = max(progress["label"], "safe", key=LABELS.index)
            elif l1_block.get("status") == "finalized":
                progress["label"] = "finalized"
    except RemoteError:
        pass  # not on L1 yet
    return progress


def describe(progress: dict[str, Any]) -> str:
    label = progress["label"]
    parts = [f"[bold]{label}[/bold]"]
    if progress.get("block"):
        parts.append(f"block #{progress['block']['number']} {str(progress['block']['hash'])[:14]}…")
    if progress.get("batch"):
        batch = progress["batch"]
        parts.append(f"L1 batch {batch['batch_id']} in L1 block {batch['l1_block']}")
        if batch.get("finalized_l1_block"):
            parts.append(f"final at L1 block {batch['finalized_l1_block']}")
    return "  ".join(parts)


def wait_for(env: Env, tx_hash: str, target: str, timeout_s: float,
             started: float) -> tuple[dict[str, Any], dict[str, float]]:
    """Poll until the transaction reaches `target`; prints each label as it is reached."""
    reached: dict[str, float] = {"receipted": round(time.monotonic() - started, 3)}
    deadline = time.monotonic() + timeout_s
    progress: dict[str, Any] = {"label": "receipted"}
    while True:
        try:
            progress = get_progress(env, tx_hash)
        except ClientError as error:
            env.say(f"[yellow]{error}; retrying[/yellow]")
            progress = dict(progress)
        label = progress.get("label") or "receipted"
        for name in LABELS[: LABELS.index(label) + 1]:
            if name not in reached:
                reached[name] = round(time.monotonic() - started, 3)
                env.say(f"  {reached[name]:6.1f}s  {describe(dict(progress, label=name))}")
        if LABELS.index(label) >= LABELS.index(target):
            return progress, reached
        if time.monotonic() > deadline:
            raise ClientError(f"transaction {tx_hash} is {label} after {timeout_s:.0f} s, not {target}")
        time.sleep(0.5)


def send(
    to: Annotated[str, typer.Option("--to", help="Recipient 0x address.")],
    value: Annotated[str, typer.Option("--value", help="Amount in ETH (1.5), or with a unit (2gwei, 100wei).")],
    sender: FromOpt = None, key: KeyOpt = None,
    wait: Annotated[str, typer.Option("--wait", help="Wait until: none | receipt | unsafe | attested | safe | finalized.")] = "attested",
    nonce: Annotated[Optional[int], typer.Option(help="Nonce (default: the sender's pending nonce).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for --wait.")] = 120.0,
    directory: DirOpt = DEFAULT_DIR, l1: L1Opt = None, rpc: RpcOpt = None, as_json: JsonOpt = False,
) -> None:
    """Send a transfer, keep the leader's receipt, hand it to the rangers, follow it to --wait."""
    env = Env(directory, l1, rpc, as_json)
    if wait not in WAIT_CHOICES:
        raise ClientError(f"--wait must be one of {', '.join(WAIT_CHOICES)}, got {wait!r}")
    recipient = _address(to, "--to")
    amount = parse_amount(value)
    address, private_key = env.resolve_signer(sender, key)
    raw, used_nonce = build_transfer(env, private_key, address, recipient, amount, nonce)
    started = time.monotonic()
    tx_hash, receipt = submit(env, raw)
    record: dict[str, Any] = {"hash": tx_hash, "from": to_checksum(address), "to": to_checksum(recipient),
                              "value": str(amount), "nonce": used_nonce, "raw": "0x" + raw.hex(),
                              "chain_id": env.chain_id, "receipt": receipt, "sequencer": env.rpc_url}
    env.say(f"sent {format_tokens(amount, 6)} ETH {to_checksum(address)} -> {to_checksum(recipient)}: {tx_hash}")
    if receipt:
        names = env.names_by_node_key()
        leader = names.get(str(receipt.get("leader", "")).lower(), str(receipt.get("leader", ""))[:14])
        env.say(f"  receipt: slot {receipt.get('slot')} index {receipt.get('index')} signed by {leader}")
        path = keep_receipt(env, record)
        record["receipt_file"] = str(path)
        record["rangers"] = hand_to_rangers(env, receipt)
        for line in record["rangers"]:
            env.say(f"  {line}")
    else:
        env.say("  [yellow]no receipt from the sequencer (seq_getReceipt)[/yellow]")
    if wait in ("none", "receipt"):
        env.emit(record, lambda: None)
        return
    progress, reached = wait_for(env, tx_hash, wait, timeout, started)
    record.update(label=progress["label"], block=progress.get("block"), batch=progress.get("batch"),
                  seconds=reached)
    if receipt:
        keep_receipt(env, record)
    env.emit(record, lambda: None)


# --- tx, block -------------------------------------------------------------------------------

def tx(
    tx_hash: Annotated[str, typer.Argument(metavar="HASH")],
    directory: DirOpt = DEFAULT_DIR, l1: L1Opt = None, rpc: RpcOpt = None, as_json: JsonOpt = False,
) -> None:
    """A transaction: sender, recipient, value, and how far it has come."""
    env = Env(directory, l1, rpc, as_json)
    tx_hash = parse_hash(tx_hash, "transaction hash")
    progress = get_progress(env, tx_hash)
    if progress["label"] is None:
        raise ClientError(f"transaction {tx_hash} is unknown to {env.rpc_url}")
    saved = env.directory / "receipts" / f"{tx_hash}.json"
    if saved.exists():
        progress["receipt_file"] = str(saved)

    def render() -> None:
        t = progress["tx"]
        console.print(f"[bold]{tx_hash}[/bold]", highlight=False)
        console.print(f"  from  {checksum(t.get('from', ''))}\n  to    {checksum(t.get('to') or '')}\n"
                      f"  value {format_tokens(_int(t.get('value')) or 0, 6)} ETH   nonce {_int(t.get('nonce'))}",
                      highlight=False)
        console.print("  " + describe(progress), highlight=False)
        if progress.get("receipt_file"):
            console.print(f"  receipt kept in {progress['receipt_file']}", highlight=False)

    env.emit(progress, render)


def block(
    ref: Annotated[str, typer.Argument(metavar="[N|latest|safe|finalized]")] = "latest",
    full: Annotated[bool, typer.Option("--txs", help="List the transactions.")] = False,
    directory: DirOpt = DEFAULT_DIR, l1: L1Opt = None, rpc: RpcOpt = None, as_json: JsonOpt = False,
) -> None:
    """An L2 block by number or head label, with its L1 batch."""
    env = Env(directory, l1, rpc, as_json)
    if ref.isdigit():
        tag = hex(int(ref))
    elif ref in ("latest", "safe", "finalized", "earliest", "pending"):
        tag = ref
    else:
        raise ClientError(f"block {ref!r}: use a number, latest, safe or finalized")
    data = http.rpc(env.rpc_url, "eth_getBlockByNumber", [tag, full])
    if data is None:
        raise ClientError(f"block {ref} not found at {env.rpc_url}")
    number = _int(data.get("number"))
    l1_info = None
    try:
        l1_info = http.get(f"{env.l1_url}/blocks/{number}", timeout_s=3)
        if l1_info.get("hash", "").lower() != str(data.get("hash", "")).lower():
            l1_info = dict(l1_info, note="L1 holds another block at this number")
    except ClientError:
        pass
    result = {"block": data, "l1": l1_info}

    def render() -> None:
        names = env.names_by_node_key()
        console.print(f"[bold]block #{number}[/bold] {data.get('hash')}", highlight=False)
        producer = str(data.get("producer") or "")
        who = names.get(producer.lower(), producer[:18]) if producer else checksum(data.get("miner", ""))
        console.print(f"  parent {data.get('parentHash')}\n  slot {_int(data.get('slot'))}   "
                      f"time {_int(data.get('timestamp'))}   producer {who}   "
                      f"txs {len(data.get('transactions', []))}", highlight=False)
        console.print(f"  state root {data.get('stateRoot')}", highlight=False)
        if l1_info:
            console.print(f"  L1: {l1_info.get('status')} (batch {l1_info.get('batch_id')}, L1 block "
                          f"{l1_info.get('l1_block')}, verified by {len(l1_info.get('verified_by', []))} ranger(s))"
                          + (f" [red]{l1_info['note']}[/red]" if l1_info.get("note") else ""), highlight=False)
        else:
            console.print("  L1: not in a batch yet")
        if full:
            for item in data.get("transactions", []):
                if isinstance(item, dict):
                    console.print(f"    {item.get('hash')} {checksum(item.get('from', ''))} -> "
                                  f"{checksum(item.get('to') or '')} {format_tokens(_int(item.get('value')) or 0, 6)}",
                                  highlight=False)
                else:
                    console.print(f"    {item}", highlight=False)

    env.emit(result, render)


# --- receipt verify --------------------------------------------------------------------------

@receipt_app.command("verify")
def receipt_verify(
    file: Annotated[Path, typer.Argument(help="A receipt JSON, or a file `seqnet send` kept.")],
    offline: Annotated[bool, typer.Option(help="Check the signature only; ask no service.")] = False,
    directory: DirOpt = DEFAULT_DIR, l1: L1Opt = None, rpc: RpcOpt = None, as_json: JsonOpt = False,
) -> None:
    """Check a receipt's signature, that its signer led the slot, and that its block kept it."""
    env = Env(directory, l1, rpc, as_json)
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as error:
        raise ClientError(f"cannot read {file}: {error}") from None
    raw = data.get("receipt", data) if isinstance(data, dict) else data
    try:
        receipt = receipt_from_json(raw)
    except ProtocolError as error:
        raise ClientError(f"{file}: {error}") from None
    chain_id = int(data.get("chain_id") or 0) if isinstance(data, dict) else 0
    if not chain_id:
        chain_id = env.chain_id
    result: dict[str, Any] = {"tx_hash": "0x" + receipt.tx_hash.hex(), "slot": receipt.slot,
                              "index": receipt.index, "leader": "0x" + receipt.leader.hex(),
                              "signature_valid": verify_receipt(receipt, chain_id)}
    if not offline:
        try:
            slot = http.get(f"{env.l1_url}/slots/{receipt.slot}", timeout_s=3)
            result["leader_of_slot"] = (slot.get("leader") or "").lower() == result["leader"]
        except ClientError as error:
            result["leader_of_slot"] = None
            result["leader_check_error"] = str(error)
        result["kept"] = None
        try:
            tx_receipt = http.rpc(env.rpc_url, "eth_getTransactionReceipt", [result["tx_hash"]])
            if tx_receipt and tx_receipt.get("blockNumber") is not None:
                number = _int(tx_receipt["blockNumber"])
                block_data = http.rpc(env.rpc_url, "eth_getBlockByNumber", [hex(number), False])
                result["block"] = number
                block_slot = _int(block_data.get("slot"))
                hashes = [bytes.fromhex(h[2:]) for h in block_data.get("transactions", [])]
                if block_slot is not None and block_slot != receipt.slot:
                    result["kept"] = True
                    result["note"] = (f"the leader produced no block in slot {receipt.slot}; "
                                      f"included later in block {number} (slot {block_slot})")
                else:
                    result["kept"] = not is_receipt_violated(receipt, hashes)
        except ClientError as error:
            result["chain_check_error"] = str(error)
    ok = result["signature_valid"] and result.get("leader_of_slot") is not False and result.get("kept") is not False

    def render() -> None:
        mark = {True: "[green]yes[/green]", False: "[red]NO[/red]", None: "[yellow]unknown[/yellow]"}
        console.print(f"receipt for {result['tx_hash']} (slot {receipt.slot}, index {receipt.index})", highlight=False)
        console.print(f"  signed by its leader key: {mark[result['signature_valid']]}")
        if not offline:
            console.print(f"  leader of slot {receipt.slot} on L1: {mark[result.get('leader_of_slot')]}")
            console.print(f"  block kept the promise: {mark[result.get('kept')]}"
                          + (f" ({result['note']})" if result.get("note") else ""))

    env.emit(result, render)
    if not ok:
        raise typer.Exit(1)
