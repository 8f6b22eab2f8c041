"""L1 commands: `seqnet deposit`, `withdraw`, `claim-withdrawal`, `force-tx`, and the
`seqnet stake ...` group (signed calls to the L1 mock's POST /calls)."""

from __future__ import annotations

import time
from typing import Annotated, Any, Optional

import typer

from protocol.accounts import to_checksum
from protocol.constants import BRIDGE_ADDRESS

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
    console,
    format_tokens,
    parse_amount,
    parse_hash,
)
from ..http import ClientError, RemoteError
from .chain import _address, _int, build_transfer, get_progress, submit, wait_for

stake_app = typer.Typer(help="Stake on L1: register a sequencer, delegate, undelegate, withdraw, "
                             "claim rewards, unjail.", no_args_is_help=True)


_RESULT_WORDS = {"stake": "stake now", "amount": "amount", "release_l1_block": "releasable from L1 block"}


def describe_result(result: Any) -> str:
    """An L1 call's result for people: "stake now 1,000 tokens; releasable from L1 block 84"."""
    if not isinstance(result, dict):
        return str(result) if result else ""
    parts = []
    for name, value in result.items():
        if name in ("stake", "amount"):
            parts.append(f"{_RESULT_WORDS[name]} {format_tokens(value, 6)} tokens")
        else:
            parts.append(f"{_RESULT_WORDS.get(name, name.replace('_', ' '))} {value}")
    return "; ".join(parts)


def _print_call(env: Env, what: str, answer: dict[str, Any]) -> None:
    detail = describe_result(answer.get("result"))
    env.emit(answer, lambda: console.print(
        f"{what}: applied in L1 block {answer.get('l1_block')} (call {answer.get('seq')})"
        + (f"; {detail}" if detail else ""), highlight=False))


# --- bridge ----------------------------------------------------------------------------------

def deposit(
    value: Annotated[str, typer.Option("--value", help="Tokens to bridge (1.5, 2gwei, 100wei).")],
    to: Annotated[Optional[str], typer.Option("--to", help="L2 recipient (default: the sender).")] = None,
    sender: FromOpt = None, key: KeyOpt = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until L2 credits it.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait.")] = 120.0,
    directory: DirOpt = DEFAULT_DIR, l1: L1Opt = None, rpc: RpcOpt = None, as_json: JsonOpt = False,
) -> None:
    """Lock L1 tokens in the bridge; the L1 queue credits them on L2."""
    env = Env(directory, l1, rpc, as_json)
    address, private_key = env.resolve_signer(sender, key)
    recipient = _address(to, "--to") if to else address
    amount = parse_amount(value)
    before = None
    if wait:
        before = _int(http.rpc(env.rpc_url, "eth_getBalance", ["0x" + recipient.hex(), "latest"]))
    answer = env.l1_call(private_key, "deposit", {"to": "0x" + recipient.hex(), "amount": str(amount)})
    env.say(f"deposited {format_tokens(amount, 6)} tokens to {to_checksum(recipient)} (L1 block {answer.get('l1_block')}); "
            f"queue item {answer.get('result', {}).get('index', '?')}")
    if wait:
        deadline = time.monotonic() + timeout
        while True:
            now = _int(http.rpc(env.rpc_url, "eth_getBalance", ["0x" + recipient.hex(), "latest"]))
            if now is not None and before is not None and now >= before + amount:
                env.say(f"credited on L2: balance {format_tokens(now, 6)} ETH")
                answer["l2_balance"] = str(now)
                break
            if time.monotonic() > deadline:
                raise ClientError(f"deposit not credited on L2 after {timeout:.0f} s")
            time.sleep(0.5)
    env.emit(answer, lambda: None)


def withdraw(
    value: Annotated[str, typer.Option("--value", help="ETH to withdraw from L2 to L1.")],
    sender: FromOpt = None, key: KeyOpt = None,
    claim: Annotated[bool, typer.Option("--claim/--no-claim", help="Wait for finalization and claim on L1.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for finalization.")] = 180.0,
    directory: DirOpt = DEFAULT_DIR, l1: L1Opt = None, rpc: RpcOpt = None, as_json: JsonOpt = False,
) -> None:
    """Burn ETH on L2 (a transfer to the bridge), then claim it on L1 once its block is final."""
    env = Env(directory, l1, rpc, as_json)
    address, private_key = env.resolve_signer(sender, key)
    amount = parse_amount(value)
    raw, _nonce = build_transfer(env, private_key, address, BRIDGE_ADDRESS, amount)
    started = time.monotonic()
    tx_hash, _receipt = submit(env, raw)
    env.say(f"withdrawal of {format_tokens(amount, 6)} ETH sent: {tx_hash}")
    result: dict[str, Any] = {"hash": tx_hash, "amount": str(amount)}
    if claim:
        progress, _reached = wait_for(env, tx_hash, "finalized", timeout, started)
        result["block"] = progress.get("block")
        result["claim"] = claim_for(env, tx_hash, private_key)
    env.emit(result, lambda: None)


def claim_for(env: Env, tx_hash: str, private_key: bytes) -> dict[str, Any]:
    """Fetch the withdrawal's Merkle proof from the sequencer and claim it on L1."""
    try:
        proof = http.get(f"{env.rest_url}/withdrawals/{tx_hash}")
    except RemoteError as error:
        raise ClientError(f"the sequencer has no withdrawal proof for {tx_hash}: {error}") from None
    number = proof["block_number"]
    if proof.get("head_label") != "finalized":
        # The sequencer learns finality a poll after L1: L1 has the last word.
        try:
            on_l1 = http.get(f"{env.l1_url}/blocks/{number}", timeout_s=5)
        except RemoteError:
            on_l1 = {}
        if str(on_l1.get("hash", "")).lower() not in ("", str(proof.get("block_hash", "")).lower()):
            raise ClientError(f"withdrawal {tx_hash}: L1 holds another block {number} than the "
                              f"sequencer's; the withdrawal is not claimable")
        if on_l1.get("status") != "finalized":
            where = f"on L1: {on_l1['status']}" if on_l1.get("status") else "not on L1 yet"
            raise ClientError(f"withdrawal {tx_hash} is in L2 block {number}, which is not "
                              f"finalized ({proof.get('head_label')}; {where}); L1 pays once it "
                              f"is: `seqnet claim-withdrawal {tx_hash}` waits for that")
    args = {name: proof[name] for name in ("block_number", "sender", "amount", "index", "proof")}
    answer = env.l1_call(private_key, "claim_withdrawal", args)
    env.say(f"claimed {format_tokens(proof['amount'], 6)} tokens for {to_checksum(bytes.fromhex(proof['sender'][2:]))} "
            f"on L1 in L1 block {answer.get('l1_block')} (withdrawal {proof['index']} of L2 block {number})")
    return answer


def claim_withdrawal(
    tx_hash: Annotated[str, typer.Argument(metavar="HASH", help="The L2 withdrawal transaction.")],
    sender: FromOpt = None, key: KeyOpt = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until its block is finalized on L1.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for finalization.")] = 180.0,
    directory: DirOpt = DEFAULT_DIR, l1: L1Opt = None, rpc: RpcOpt = None, as_json: JsonOpt = False,
) -> None:
    """Claim an L2 withdrawal on L1 once its block is finalized (anyone may claim; L1 pays the
    withdrawal's sender). Refused when it was claimed already."""
    env = Env(directory, l1, rpc, as_json)
    _address_bytes, private_key = env.resolve_signer(sender, key)
    tx_hash = parse_hash(tx_hash, "transaction hash")
    if wait:
        progress = get_progress(env, tx_hash)
        if progress["label"] is None:
            raise ClientError(f"transaction {tx_hash} is unknown to {env.rpc_url}")
        if progress.get("block"):  # in a block: fail now if it is no withdrawal
            try:
                http.get(f"{env.rest_url}/withdrawals/{tx_hash}")
            except RemoteError as error:
                raise ClientError(f"the sequencer has no withdrawal proof for {tx_hash}: "
                                  f"{error}") from None
        wait_for(env, tx_hash, "finalized", timeout, time.monotonic())
    env.emit(claim_for(env, tx_hash, private_key), lambda: None)


def force_tx(
    to: Annotated[str, typer.Option("--to", help="Recipient 0x address.")],
    value: Annotated[str, typer.Option("--value", help="Amount in ETH.")],
    sender: FromOpt = None, key: KeyOpt = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until an L2 block includes it.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait.")] = 120.0,
    directory: DirOpt = DEFAULT_DIR, l1: L1Opt = None, rpc: RpcOpt = None, as_json: JsonOpt = False,
) -> None:
    """Sign an L2 transfer and queue it on L1: sequencers must include it (censorship resistance)."""
    env = Env(directory, l1, rpc, as_json)
    address, private_key = env.resolve_signer(sender, key)
    raw, nonce = build_transfer(env, private_key, address, _address(to, "--to"), parse_amount(value))
    answer = env.l1_call(private_key, "force_tx", {"raw_tx": "0x" + raw.hex()})
    from protocol.hashing import keccak256

    tx_hash = "0x" + keccak256(raw).hex()
    answer["hash"] = tx_hash
    env.say(f"queued on L1 (block {answer.get('l1_block')}): {tx_hash}")
    if wait:
        started = time.monotonic()
        progress, _ = wait_for(env, tx_hash, "unsafe", timeout, started)
        answer["block"] = progress.get("block")
        if (progress.get("block") or {}).get("status") == "0x0":
            # L1 queues whatever is signed; the L2 block skips a transaction that is invalid.
            receipt = http.rpc(env.rpc_url, "eth_getTransactionReceipt", [tx_hash]) or {}
            raise ClientError(f"forced transaction {tx_hash} was skipped as invalid in L2 block "
                              f"{answer['block']['number']}: {receipt.get('reason') or 'no reason given'}")
    env.emit(answer, lambda: None)


# --- stake -----------------------------------------------------------------------------------

@stake_app.command("register")
def stake_register(
    node_key: Annotated[str, typer.Option("--node-key", help="Ed25519 public key (0x + 64 hex).")],
    endpoint: Annotated[str, typer.Option("--endpoint", help="The sequencer's public URL.")],
    amount: Annotated[str, typer.Option("--stake", help="Self-stake in tokens (>= 20,000).")] = "20000",
    commission_bps: Annotated[int, typer.Option("--commission-bps", help="Commission, 0..10000.")] = 1000,
    sender: FromOpt = None, key: KeyOpt = None,
    directory: DirOpt = DEFAULT_DIR, l1: L1Opt = None, as_json: JsonOpt = False,
) -> None:
    """Register a sequencer operated by the sender, with its self-stake."""
    env = Env(directory, l1, None, as_json)
    _address_bytes, private_key = env.resolve_signer(sender, key)
    node = parse_hash(node_key, "--node-key")
    answer = env.l1_call(private_key, "register_sequencer", {
        "node_key": node, "endpoint": endpoint, "stake": str(parse_amount(amount)),
        "commission_bps": commission_bps})
    _print_call(env, "registered", answer)


@stake_app.command("delegate")
def stake_delegate(
    sequencer: Annotated[str, typer.Option("--to", help="Sequencer: name (seq2), node key or operator address.")],
    amount: Annotated[str, typer.Option("--amount", help="Tokens to delegate.")],
    sender: FromOpt = None, key: KeyOpt = None,
    directory: DirOpt = DEFAULT_DIR, l1: L1Opt = None, as_json: JsonOpt = False,
) -> None:
    """Delegate tokens to a sequencer (its voting power and slots grow from the next snapshot)."""
    env = Env(directory, l1, None, as_json)
    _address_bytes, private_key = env.resolve_signer(sender, key)
    answer = env.l1_call(private_key, "delegate", {"sequencer": env.resolve_sequencer(sequencer),
                                                   "amount": str(parse_amount(amount))})
    _print_call(env, f"delegated {amount} tokens to {sequencer}", answer)


@stake_app.command("undelegate")
def stake_undelegate(
    sequencer: Annotated[str, typer.Option("--from-sequencer", "--sequencer", help="Sequencer: name, node key or operator.")],
    amount: Annotated[str, typer.Option("--amount", help="Tokens to undelegate.")],
    sender: FromOpt = None, key: KeyOpt = None,
    directory: DirOpt = DEFAULT_DIR, l1: L1Opt = None, as_json: JsonOpt = False,
) -> None:
    """Start unbonding a delegation (slashable until withdrawn)."""
    env = Env(directory, l1, None, as_json)
    _address_bytes, private_key = env.resolve_signer(sender, key)
    answer = env.l1_call(private_key, "undelegate", {"sequencer": env.resolve_sequencer(sequencer),
                                                     "amount": str(parse_amount(amount))})
    _print_call(env, f"undelegating {amount} tokens from {sequencer}", answer)


def _no_arg_call(method: str, what: str):
    def command(sender: FromOpt = None, key: KeyOpt = None, directory: DirOpt = DEFAULT_DIR,
                l1: L1Opt = None, as_json: JsonOpt = False) -> None:
        env = Env(directory, l1, None, as_json)
        _address_bytes, private_key = env.resolve_signer(sender, key)
        _print_call(env, what, env.l1_call(private_key, method, {}))
    return command


stake_app.command("withdraw", help="Pay out every matured unbonding entry of the sender.")(
    _no_arg_call("withdraw", "withdrawn"))
stake_app.command("claim", help="Move the sender's pending staking rewards to its L1 balance.")(
    _no_arg_call("claim_rewards", "rewards claimed"))
stake_app.command("unjail", help="Unjail the sender's sequencer (after the unjail delay).")(
    _no_arg_call("unjail", "unjailed"))
