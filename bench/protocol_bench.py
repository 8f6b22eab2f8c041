"""The protocol core's figures, each beside its baseline measured in the same run.

1. decode + sender recovery: `protocol.transactions.decode_transaction` vs eth-account's
   `Account.recover_transaction` (bench/bench_recover.py);
2. the state trie on DESIGN.md section 10's workload: genesis of 100k accounts, a block of
   1,000 transfers with its root, witness, stateless re-execution — ours vs py-trie
   (bench/bench_state.py);
3. the real protocol path: a block of 1,000 *signed* transfers over a 100k-account genesis
   through `apply_block` (fees, nonces, roots), its fraud-proof witness (`build_witness`) and
   the L1's judgement of a bad-state-root proof (`verify_fraud_proof`, stateless);
4. a node's start-up with `--extra-accounts 100000`: deriving the generated accounts from their
   keys, then the genesis state and block (what sequencer/node.py does), once, cold.

    .venv/bin/python bench/protocol_bench.py [--accounts N] [--transfers N] [--json FILE]

Goals (issue 9): >= 10,000 tx/s recovered on one core; block <= 50 ms and >= 10x py-trie;
stateless verification <= 100 ms; genesis <= 1 s.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import platform
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_recover import run_recover_bench  # noqa: E402
from bench.bench_state import run_state_bench  # noqa: E402
from protocol.accounts import generated_accounts  # noqa: E402
from protocol.blocks import Block  # noqa: E402
from protocol.chainbuilder import ChainBuilder  # noqa: E402
from protocol.encoding import encode_block  # noqa: E402
from protocol.fraud import FraudContext, InvalidStateEvidence, encode_evidence, verify_fraud_proof  # noqa: E402
from protocol.genesis import Genesis, compute_genesis_block, compute_genesis_state, make_devnet_genesis  # noqa: E402
from protocol.params import devnet_params  # noqa: E402
from protocol.transactions import decode_transaction, sign_transaction  # noqa: E402
from protocol.transition import apply_block  # noqa: E402
from protocol.witness import build_witness  # noqa: E402


def _median_ms(function, repeats: int):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), result


def run_block_bench(n_accounts: int = 100_000, n_transfers: int = 1_000, repeats: int = 5) -> dict:
    """apply_block / build_witness / verify_fraud_proof on signed transfers."""
    params = devnet_params()
    rng = random.Random(7)
    senders = generated_accounts(n_transfers, seed=b"seqnet/bench-block")
    alloc = {rng.randbytes(20): 10**21 for _ in range(n_accounts - n_transfers)}
    alloc.update({account.address: 10**21 for account in senders})
    recipients = list(alloc)
    start = time.perf_counter()
    chain = ChainBuilder(params, genesis=Genesis(params, l2_alloc=alloc))
    genesis_ms = (time.perf_counter() - start) * 1e3
    raws = [sign_transaction(account.private_key, chain_id=params.chain_id, nonce=0,
                             to=rng.choice(recipients), value=rng.randrange(10**15),
                             max_fee_per_gas=2 * params.base_fee_wei,
                             max_priority_fee_per_gas=params.base_fee_wei)
            for account in senders]
    txs = [decode_transaction(raw) for raw in raws]
    gc.collect()
    gc.freeze()
    block = chain.build(txs)
    parent_state = chain.states[-2]
    fee_recipient = chain.operator_of(block.header.producer)

    def apply():
        return apply_block(parent_state.copy(), block, fee_recipient, params, txs)

    apply_ms, output = _median_ms(apply, repeats)
    assert output.state_root == block.header.state_root

    # a cheating producer: the same block with a wrong state root, re-signed
    header = dataclasses.replace(block.header, state_root=b"\x66" * 32)
    bad = Block(header, chain.key_of(header.producer).sign(b"block", params.chain_id, header.hash),
                block.queue_items, block.transactions)
    witness_ms, witness = _median_ms(lambda: build_witness(parent_state, bad, fee_recipient, params, txs),
                                     repeats)
    evidence = InvalidStateEvidence(bad, tuple(witness))
    ctx = FraudContext(parent_state_root=parent_state.state_root(), fee_recipient=fee_recipient,
                       accepted_block_hash=bad.hash)
    verify_ms, verdict = _median_ms(lambda: verify_fraud_proof("invalid_state", evidence, ctx, params),
                                    repeats)
    assert verdict.offender == bad.header.producer
    gc.unfreeze()
    return {
        "n_accounts": len(alloc), "n_transfers": n_transfers,
        "genesis_with_chain_setup_ms": round(genesis_ms),
        "apply_block_ms": round(apply_ms, 1),
        "witness_build_ms": round(witness_ms, 1),
        "witness_nodes": len(witness),
        "witness_bytes": sum(map(len, witness)),
        "block_bytes": len(encode_block(bad)),
        "evidence_bytes": len(encode_evidence(evidence)),
        "fraud_proof_verify_ms": round(verify_ms, 1),
    }


def run_startup_bench(n_accounts: int = 100_000) -> dict:
    """A node's genesis at start-up, cold: `make_devnet_genesis` derives the generated accounts'
    addresses (one secp256k1 multiplication each; cached per process only), then
    `compute_genesis_state` and the genesis block."""
    params = devnet_params()
    gc.collect()
    start = time.perf_counter()
    genesis = make_devnet_genesis(params, n_accounts)
    derived = time.perf_counter()
    state = compute_genesis_state(genesis)
    compute_genesis_block(genesis, state.state_root())
    end = time.perf_counter()
    return {
        "n_accounts": len(genesis.l2_alloc),
        "derive_addresses_ms": round((derived - start) * 1e3),
        "genesis_state_and_block_ms": round((end - derived) * 1e3),
        "total_ms": round((end - start) * 1e3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--transfers", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    print("== 1. decode + recover (ours vs eth-account) ==")
    recover = run_recover_bench(2000, args.repeats)
    print(f"  ours        {recover['ours_tx_per_s']:>8,} tx/s  ({recover['ours_us_per_tx']} us/tx)"
          f"   median pass {recover['ours_median_tx_per_s']:,} tx/s")
    print(f"  eth-account {recover['eth_account_tx_per_s']:>8,} tx/s  ({recover['eth_account_us_per_tx']} us/tx)"
          f"   median pass {recover['eth_account_median_tx_per_s']:,} tx/s")
    print(f"  speedup {recover['speedup']}x   goal >= 10,000 tx/s")

    print(f"\n== 2. state trie: {args.accounts:,} accounts, {args.transfers:,} transfers (ours vs py-trie) ==")
    state = run_state_bench(args.accounts, args.transfers, args.repeats)
    print(f"  genesis {args.accounts:,} accounts with root   {state['genesis_ms']:8.0f} ms   goal <= 1,000 ms"
          f"   (py-trie, {state['pytrie_genesis_accounts']:,} accounts: {state['pytrie_genesis_ms']:.0f} ms;"
          f" ours on those: {state['genesis_small_ms']:.0f} ms)")
    print(f"  block with root                        {state['block_ms']:8.1f} ms   goal <= 50 ms"
          f"   py-trie {state['pytrie_block_ms']:.0f} ms -> {state['block_speedup']:.1f}x")
    print(f"  witness                                {state['witness_nodes']:,} nodes, "
          f"{state['witness_bytes'] / 2**20:.2f} MiB, built in {state['witness_ms']:.1f} ms")
    print(f"  stateless re-execution                 {state['stateless_ms']:8.1f} ms   goal <= 100 ms"
          f"   py-trie {state['pytrie_stateless_ms']:.0f} ms")
    print(f"  roots equal: py-trie block {state['pytrie_root_equal']}, stateless {state['stateless_root_equal']}")

    print(f"\n== 3. protocol path: {args.transfers:,} signed transfers over {args.accounts:,} accounts ==")
    block = run_block_bench(args.accounts, args.transfers, args.repeats)
    print(f"  apply_block (pre-decoded txs, fees, roots)   {block['apply_block_ms']:8.1f} ms")
    print(f"  build_witness for a bad-state-root proof     {block['witness_build_ms']:8.1f} ms"
          f"   {block['witness_nodes']:,} nodes, {block['witness_bytes'] / 2**20:.2f} MiB")
    print(f"  L1 verify_fraud_proof (stateless)            {block['fraud_proof_verify_ms']:8.1f} ms"
          f"   evidence {block['evidence_bytes'] / 2**20:.2f} MiB (block {block['block_bytes'] / 1024:.0f} KiB)")

    print(f"\n== 4. node start-up: genesis with {args.accounts:,} generated accounts, cold ==")
    startup = run_startup_bench(args.accounts)
    print(f"  derive the addresses from their keys         {startup['derive_addresses_ms']:8,} ms")
    print(f"  genesis state, root and block                {startup['genesis_state_and_block_ms']:8,} ms"
          f"   goal <= 1,000 ms")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": platform.platform(), "python": platform.python_version(),
                                         "recover": recover, "state": state, "block": block,
                                         "startup": startup}, indent=2))
        print(f"\nwritten to {args.json}")


if __name__ == "__main__":
    main()
