"""Fraud-proof figures: for each fault flag, the time from the faulty block's production to the
slash on L1 (in L1 blocks and seconds) and the evidence size, on the e2e scenarios' devnet
(tests/e2e/test_ranger_support.py: 4 sequencers, one faulty, 1 ranger), with the witness of
the devnet's invalid_state proofs; and the witness size of an invalid_state proof of a
1,000-transfer block over 100k accounts (in memory).

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
    """One fault flag on the e2e scenarios' devnet (tests/e2e/test_ranger_support.py): the
    honest nodes and the ranger first, then the faulty sequencer; transfers until L1 accepts
    the ranger's proof."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
    from test_ranger_support import FAULT_KIND, HEALTH_TIMEOUT_S, USERS, Scenario, start_devnet

    kind = FAULT_KIND[flag]
    faulty = 2
    honest = (0, 2, 3)
    with start_devnet(workdir / flag, faulty, flag, start_faulty=False) as net:
        s = Scenario(net)
        try:
            spec = s.sequencer_spec(faulty)

            def deposit(i: int) -> None:
                if flag == "censor":
                    s.l1_call(USERS[1], "deposit", to="0x" + USERS[0].address.hex(),
                              amount=str(10**18))
            net.restart(spec.name, health_timeout_s=HEALTH_TIMEOUT_S)
            try:
                report = s.send_until(f"an accepted {kind} proof",
                                      lambda: s.accepted_report(kind), 150, honest, also=deposit)
            except AssertionError as error:
                return {"flag": flag, "kind": kind, "error": str(error)}
            figures = {"flag": flag, **s.compute_slash_latency(report)}
            return figures
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
