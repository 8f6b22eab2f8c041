"""`python -m l1mock`: settings from flags and SEQNET_L1_* env, then uvicorn."""

from __future__ import annotations

import argparse
import logging

import uvicorn

from .app import create_app
from .settings import L1Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m l1mock", description="seqnet L1 mock")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--data-dir")
    parser.add_argument("--database-url")
    parser.add_argument("--params-file")
    parser.add_argument("--genesis-time-ms", type=int)
    parser.add_argument("--extra-accounts", type=int)
    parser.add_argument("--log-level")
    args = parser.parse_args(argv)
    overrides = {name: value for name, value in vars(args).items() if value is not None}
    settings = L1Settings(**overrides)
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level,
                access_log=False)


if __name__ == "__main__":
    main()
