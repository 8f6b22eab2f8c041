"""State benchmark: our deferred-hashing trie against py-trie, on DESIGN.md section 10's workload.

A genesis of `n_accounts` accounts, then one block of `n_transfers` transfers between random
accounts (sender nonce + 1 and balance - value - fee, recipient balance + value, the block's fees
credited to a producer once at the end), applied with its state root; then the witness of the
block (the proof nodes of every touched account) and the stateless re-execution over it.

py-trie's 100k-account genesis takes 15-33 s here, so its genesis is timed on a smaller
trie (`pytrie_genesis_accounts`), and the py-trie baseline for the block is loaded with our
genesis's nodes (same root) instead of being built key by key.

The machine is shared: runs hit stalls of a few hundred ms, so the table shows the median and the
best run, and a calibration loop whose spread tells how loaded the machine was.

    .venv/bin/python bench/bench_state.py [--accounts N] [--transfers N] [--repeats N]

Spec: docs/spec/trie.md#performance
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import time
from collections.abc import Callable

from trie import HexaryTrie

from protocol.hashing import keccak256
from protocol.state import Account, State, decode_account, encode_account

FEE = 21_000 * 10**9
"""21,000 gas at 1 gwei."""


def _time_ms(function: Callable[[], object], repeats: int) -> tuple[float, float, object]:
    """(median ms, best ms, last result) over `repeats` calls."""
    times = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), min(times), result


def _calibration_ms(repeats: int = 9) -> tuple[float, float]:
    """A fixed pure-Python loop (about 60 ms on this machine when idle): shows how loaded it is."""

    def loop() -> int:
        total = 0
        for i in range(2_000_000):
            total += i & 7
        return total

    median, best, _ = _time_ms(loop, repeats)
    return median, best


def _make_accounts(rng: random.Random, n: int) -> dict[bytes, Account]:
    return {
        rng.randbytes(20): Account(rng.randrange(100), 10**22 + rng.randrange(10**18)) for _ in range(n)
    }


def _make_block(rng: random.Random, addresses: list[bytes], n: int) -> list[tuple[bytes, bytes, int]]:
    return [(rng.choice(addresses), rng.choice(addresses), rng.randrange(10**15)) for _ in range(n)]


def _apply_block(
    get: Callable[[bytes], Account], put: Callable[[bytes, Account], None], block, producer: bytes
) -> None:
    fees = 0
    for sender, recipient, value in block:
        account = get(sender)
        put(sender, Account(account.nonce + 1, account.balance - value - FEE))
        account = get(recipient)
        put(recipient, Account(account.nonce, account.balance + value))
        fees += FEE
    account = get(producer)
    put(producer, Account(account.nonce, account.balance + fees))


def _apply_on_state(state: State, block, producer: bytes) -> bytes:
    _apply_block(state.get_account, state.set_account, block, producer)
    return state.state_root()


def _apply_on_pytrie(trie: HexaryTrie, block, producer: bytes) -> bytes:
    def get(address: bytes) -> Account:
        raw = trie.get(keccak256(address))
        return decode_account(raw) if raw else Account()

    def put(address: bytes, account: Account) -> None:
        trie.set(keccak256(address), encode_account(account))

    _apply_block(get, put, block, producer)
    return trie.root_hash


def run_state_bench(
    n_accounts: int = 100_000,
    n_transfers: int = 1_000,
    repeats: int = 7,
    pytrie_genesis_accounts: int = 10_000,
    pytrie_repeats: int = 2,
    seed: int = 1,
) -> dict:
    """Time genesis, a block with its root, its witness and its stateless re-execution.

    Returns medians in milliseconds, witness sizes, and whether every root agrees.

    Spec: docs/spec/trie.md#performance
    """
    rng = random.Random(seed)
    accounts = _make_accounts(rng, n_accounts)
    addresses = list(accounts)
    block = _make_block(rng, addresses, n_transfers)
    producer = rng.randbytes(20)
    touched = {producer, *(a for sender, recipient, _ in block for a in (sender, recipient))}

    results: dict = {
        "n_accounts": n_accounts,
        "n_transfers": n_transfers,
        "touched_accounts": len(touched),
    }

    results["calibration_ms"], results["calibration_min_ms"] = _calibration_ms()
    results["genesis_ms"], results["genesis_min_ms"], genesis = _time_ms(
        lambda: _genesis(accounts), repeats
    )
    pre_root = genesis.state_root()
    gc.collect()
    gc.freeze()  # as a node would after genesis: the GC never rescans the long-lived trie

    results["block_ms"], results["block_min_ms"], post_root = _time_ms(
        lambda: _apply_on_state(genesis.copy(), block, producer), repeats
    )
    results["witness_ms"], results["witness_min_ms"], witness = _time_ms(
        lambda: genesis.build_witness(touched), repeats
    )
    results["witness_nodes"] = len(witness)
    results["witness_bytes"] = sum(len(node) for node in witness)
    results["stateless_ms"], results["stateless_min_ms"], stateless_root = _time_ms(
        lambda: _apply_on_state(State.from_witness(pre_root, witness), block, producer), repeats
    )
    results["stateless_root_equal"] = stateless_root == post_root
    assert genesis.state_root() == pre_root, "the block changed the genesis snapshot"

    # py-trie baselines
    small = dict(list(accounts.items())[:pytrie_genesis_accounts])

    def pytrie_genesis() -> bytes:
        trie = HexaryTrie({})
        for address, account in small.items():
            trie.set(keccak256(address), encode_account(account))
        return trie.root_hash

    results["pytrie_genesis_accounts"] = len(small)
    results["pytrie_genesis_ms"], _, pytrie_small_root = _time_ms(pytrie_genesis, 1)
    results["genesis_small_ms"], results["genesis_small_min_ms"], small_root = _time_ms(
        lambda: State.from_accounts(small).state_root(), repeats
    )
    results["genesis_small_root_equal"] = small_root == pytrie_small_root

    # every node of the genesis trie (the witness of all its accounts): a py-trie database at our root
    database = {keccak256(node): node for node in genesis.build_witness(addresses)}
    results["pytrie_block_ms"], results["pytrie_block_min_ms"], pytrie_root = _time_ms(
        lambda: _apply_on_pytrie(HexaryTrie(dict(database), root_hash=pre_root), block, producer),
        pytrie_repeats,
    )
    results["pytrie_root_equal"] = pytrie_root == post_root
    witness_db = {keccak256(node): node for node in witness}
    results["pytrie_stateless_ms"], results["pytrie_stateless_min_ms"], pytrie_stateless_root = (
        _time_ms(
            lambda: _apply_on_pytrie(HexaryTrie(dict(witness_db), root_hash=pre_root), block, producer),
            pytrie_repeats,
        )
    )
    results["pytrie_stateless_root_equal"] = pytrie_stateless_root == post_root
    results["block_speedup"] = results["pytrie_block_ms"] / results["block_ms"]
    results["block_speedup_best"] = results["pytrie_block_min_ms"] / results["block_min_ms"]
    gc.unfreeze()
    return results


def _genesis(accounts: dict[bytes, Account]) -> State:
    state = State.from_accounts(accounts)
    state.state_root()
    return state


def _print_table(r: dict) -> None:
    def ms(key: str) -> str:
        return f"{r[key]:.1f} / {r[key.replace('_ms', '_min_ms')]:.1f} ms"

    n, t = r["n_accounts"], r["n_transfers"]
    rows = [
        (f"genesis, {n:,} accounts, with root", ms("genesis_ms"), "-", "<= 1,000 ms"),
        (
            f"genesis, {r['pytrie_genesis_accounts']:,} accounts, with root",
            ms("genesis_small_ms"),
            f"{r['pytrie_genesis_ms']:.0f} ms (1 run)",
            "",
        ),
        (
            f"block: {t:,} transfers over {n:,} accounts, with root",
            ms("block_ms"),
            ms("pytrie_block_ms"),
            "<= 50 ms",
        ),
        ("witness build", ms("witness_ms"), "-", "witness + stateless"),
        (
            "stateless re-execution: from_witness + block + root",
            ms("stateless_ms"),
            ms("pytrie_stateless_ms"),
            "<= 100 ms",
        ),
        (
            "witness size",
            f"{r['witness_nodes']:,} nodes, {r['witness_bytes'] / 2**20:.2f} MiB",
            "same",
            f"{r['touched_accounts']:,} accounts",
        ),
        ("calibration: 2M-iteration Python loop", ms("calibration_ms"), "-", "about 60 ms idle"),
    ]
    header = ("primitive", "seqnet trie (median / best)", "py-trie", "goal")
    widths = [max(len(row[i]) for row in [*rows, header]) for i in range(4)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))
    print()
    print(f"block speedup over py-trie: {r['block_speedup']:.0f}x (medians), {r['block_speedup_best']:.0f}x (best)")
    print(
        f"roots equal: py-trie block {r['pytrie_root_equal']}, stateless {r['stateless_root_equal']}, "
        f"py-trie stateless {r['pytrie_stateless_root_equal']}, "
        f"{r['pytrie_genesis_accounts']:,}-account genesis {r['genesis_small_root_equal']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--transfers", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--pytrie-genesis-accounts", type=int, default=10_000)
    args = parser.parse_args()
    results = run_state_bench(args.accounts, args.transfers, args.repeats, args.pytrie_genesis_accounts)
    load = os.getloadavg()[0]
    print(f"median / best of {args.repeats} runs (py-trie: of 2; its genesis: 1 run); load average {load:.1f}\n")
    _print_table(results)


if __name__ == "__main__":
    main()
