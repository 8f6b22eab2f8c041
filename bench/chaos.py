"""Chaos figures (issue #7): the long chaos scenario of tests/chaos/harness.py on a fresh
devnet (L1 mock, 4 sequencers, 1 ranger): SIGKILL and restart of random sequencers (the
current leader included) every few slots under a steady load of signed transfers, deposits and
withdrawals, a ranger stop/restart and an L1 mock kill/restart; then the invariants (no
receipted transaction lost or included twice, one finalized head, balances conserved, no stall
beyond two slots outside the L1 outage, nobody slashed). Prints the figures as a table and
writes them to bench/results/chaos.json. Exit status 1 when an invariant failed.

    .venv/bin/python bench/chaos.py [--kills 8] [--leader-kills 4] [--rate 12] [--duration 900]
        [--no-ranger] [--no-l1] [--dir DIR] [--seed 7]
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.chaos.harness import ChaosPlan, run_chaos  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    defaults = ChaosPlan()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=defaults.kills)
    parser.add_argument("--leader-kills", type=int, default=None,
                        help="kills aimed at the current leader (default: half)")
    parser.add_argument("--steady-slots", type=int, default=defaults.steady_slots,
                        help="slots between a node catching up and the next fault")
    parser.add_argument("--rate", type=float, default=defaults.rate_tps, help="offered tx/s")
    parser.add_argument("--max-txs", type=int, default=defaults.max_txs)
    parser.add_argument("--duration", type=float, default=defaults.max_load_s,
                        help="upper bound of the load in seconds")
    parser.add_argument("--no-ranger", action="store_true", help="no ranger restart")
    parser.add_argument("--no-l1", action="store_true", help="no L1 mock restart")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--log-level", default=defaults.log_level,
                        help="of every service (debug: every slot and block in the logs)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="devnet directory (kept); default: a temporary one, removed "
                             "unless an invariant fails")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "chaos.json")
    args = parser.parse_args(argv)
    plan = dataclasses.replace(
        defaults, kills=args.kills, steady_slots=args.steady_slots, rate_tps=args.rate,
        leader_kills=args.leader_kills if args.leader_kills is not None else max(1, args.kills // 2),
        max_txs=args.max_txs, max_load_s=args.duration, restart_ranger=not args.no_ranger,
        restart_l1=not args.no_l1, seed=args.seed, log_level=args.log_level)
    directory = args.dir or Path(tempfile.mkdtemp(prefix="seqnet-chaos-"))
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    result = run_chaos(directory / "net" if args.dir is None else directory, plan,
                       json_path=args.json)
    print(f"\nchaos run of {started} ({directory})")
    print(result.table())
    print(f"\nfigures written to {args.json}")
    if result.violations:
        print(f"logs kept in {directory}")
        return 1
    if args.dir is None:
        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
