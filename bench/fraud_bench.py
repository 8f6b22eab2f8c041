"""Fraud-proof figures: for each fault flag, the time from the faulty block's production to the
slash on L1 (in L1 blocks and seconds), on a real devnet (4 sequencers, one faulty, 1 ranger);
and the witness size of an invalid_state proof (1,000 transfers over 100k accounts, in memory).

    .venv/bin/python bench/fraud_bench.py [--flags bad_state_root,reorder] [--skip-devnet]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FLAGS = ("bad_state_root", "invalid_tx", "reorder", "equivocate", "censor")


def witness_figures(transfers: int = 1000, accounts: int = 100_000) -> dict:
    import dataclasses

    from protocol.accounts import generated_accounts
    from protocol.blocks import Block
    from protocol.chainbuilder import ChainBuilder
    from protocol.genesis import make_devnet_genesis
    from protocol.params import devnet_params
    from protocol.transactions import decode_transaction, sign_transaction
    from ranger.detect import compute_witness_size, execute_block

    params = devnet_params()
    chain = ChainBuilder(params, genesis=make_devnet_genesis(params, extra_accounts=accounts))
    senders = generated_accounts(transfers)
    txs = [decode_transaction(sign_transaction(a.private_key, chain_id=params.chain_id, nonce=0,
                                               to=senders[(i + 1) % transfers].address, value=1,
                                               max_fee_per_gas=2 * params.base_fee_wei,
                                               max_priority_fee_per_gas=params.base_fee_wei))
           for i, a in enumerate(senders)]
    honest = chain.build(txs, append=False)
    header = dataclasses.replace(honest.header, state_root=b"\x13" * 32)
    key = chain.key_of(header.producer)
    bad = Block(header, key.sign(b"block", params.chain_id, header.hash), honest.queue_items,
                honest.transactions)
    started = time.perf_counter()
    result = execute_block(bad, chain.head_state, chain.operator_of(header.producer), params, txs)
    detect_s = time.perf_counter() - started
    nodes, size = compute_witness_size(result.finding)
    return {"transfers": transfers, "accounts": accounts, "witness_nodes": nodes,
            "witness_bytes": size, "evidence_bytes": len(result.finding.raw),
            "detect_and_prove_s": round(detect_s, 3)}


def devnet_figures(flag: str, workdir: Path) -> dict:
    from client.devnet import Devnet
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
    from test_ranger_support import ACCOUNTS, FAULT_KIND, Scenario

    kind = FAULT_KIND[flag]
    with Devnet.start(workdir / flag, sequencers=4, rangers=1, faults=[f"2:{flag}"]) as net:
        s = Scenario(net)
        try:
            if flag == "censor":
                s.l1_call(ACCOUNTS[1], "deposit", to="0x" + ACCOUNTS[2].address.hex(),
                          amount=str(10**18))
            deadline = time.monotonic() + 120
            report = None
            i = 0
            while time.monotonic() < deadline and report is None:
                try:
                    s.send_transfer(ACCOUNTS[i % 2], ACCOUNTS[2].address, via=i % 4)
                except Exception:  # noqa: BLE001 - load is best effort
                    pass
                i += 1
                report = next((r for r in s.ranger.get("/reports")
                               if r["kind"] == kind and r["status"] == "accepted"), None)
                time.sleep(0.3)
            if report is None:
                return {"flag": flag, "kind": kind, "error": "no accepted proof within 120 s"}
            status = s.l1.get("/status")
            l1_ms, l1_head = status["l1_head_timestamp_ms"], status["l1_head"]
            block_ms = report["block_timestamp_ms"]
            produced_l1 = l1_head - (l1_ms - block_ms) // net.params.l1_block_ms
            slash = s.l1.get(f"/slashes/{report['slash_id']}")
            slash_ms = l1_ms - (l1_head - slash["l1_block"]) * net.params.l1_block_ms
            return {"flag": flag, "kind": kind, "l1_blocks": slash["l1_block"] - produced_l1,
                    "seconds": round((slash_ms - block_ms) / 1000, 1),
                    "detect_s": round((report["detected_at_ms"] - block_ms) / 1000, 1),
                    "evidence_bytes": report["evidence_size"]}
        finally:
            s.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flags", default=",".join(FLAGS))
    parser.add_argument("--skip-devnet", action="store_true")
    parser.add_argument("--accounts", type=int, default=100_000)
    args = parser.parse_args()
    print("invalid_state witness:", witness_figures(accounts=args.accounts), flush=True)
    if args.skip_devnet:
        return
    with tempfile.TemporaryDirectory(prefix="fraud-bench-") as tmp:
        for flag in args.flags.split(","):
            print(devnet_figures(flag, Path(tmp)), flush=True)


if __name__ == "__main__":
    main()
