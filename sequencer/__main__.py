"""`python -m sequencer`: settings from flags and SEQNET_SEQUENCER_* env, then uvicorn.

    python -m sequencer --host 127.0.0.1 --port P --data-dir D --params-file F --l1-url URL
        --name seq1 --node-key-seed HEX32 --operator-key HEX32 --stake-tokens 35000
        --public-url http://127.0.0.1:P [--fault KIND]... [--admin-token T]
        [--database-url URL] [--sync-from-l1]
"""

from __future__ import annotations

import argparse
import logging

import uvicorn

from .app import create_app
from .settings import SequencerSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sequencer", description="seqnet sequencer")
    for flag in ("--host", "--data-dir", "--params-file", "--l1-url", "--name", "--node-key-seed",
                 "--operator-key", "--public-url", "--admin-token", "--database-url",
                 "--log-level"):
        parser.add_argument(flag)
    for flag in ("--port", "--stake-tokens", "--genesis-time-ms", "--extra-accounts",
                 "--commission-bps"):
        parser.add_argument(flag, type=int)
    parser.add_argument("--fault", action="append", help="devnet fault flag (repeatable)")
    parser.add_argument("--sync-from-l1", action="store_true", default=None)
    parser.add_argument("--no-register", dest="register_on_start", action="store_false",
                        default=None)
    args = parser.parse_args(argv)
    overrides = {name: value for name, value in vars(args).items() if value is not None}
    settings = SequencerSettings(**overrides)
    logging.basicConfig(level=settings.log_level.upper(),
                        format=f"%(asctime)s %(levelname)s {settings.name} %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per peer request: noise
    app = create_app(settings)
    # No proxy sits in front of a sequencer (the launcher and docker-compose.yml publish its
    # port directly) and nothing reads the client address or scheme: uvicorn's
    # ProxyHeadersMiddleware would be one more layer on every request for nothing.
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning",
                access_log=False, loop="uvloop", http="httptools", proxy_headers=False)


if __name__ == "__main__":
    main()
