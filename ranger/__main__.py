"""`python -m ranger`: settings from flags and SEQNET_RANGER_* env, then uvicorn."""

from __future__ import annotations

import argparse
import logging

import uvicorn

from .app import create_app
from .settings import RangerSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ranger", description="seqnet ranger")
    for flag in ("host", "data-dir", "database-url", "params-file", "l1-url", "name",
                 "node-key-seed", "operator-key", "public-url", "log-level"):
        parser.add_argument(f"--{flag}")
    for flag in ("port", "bond-tokens", "genesis-time-ms", "extra-accounts", "poll-ms", "report-ms"):
        parser.add_argument(f"--{flag}", type=int)
    parser.add_argument("--sample-rate", type=float)
    parser.add_argument("--sequencer-url", dest="sequencer_urls", action="append")
    args = parser.parse_args(argv)
    overrides = {name: value for name, value in vars(args).items() if value is not None}
    settings = RangerSettings(**overrides)
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_level=settings.log_level, access_log=False)


if __name__ == "__main__":
    main()
