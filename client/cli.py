"""The `seqnet` command line: devnet launcher, wallet, transfers, staking, observation.

Every command talks to the services over their public HTTP APIs only. A command that cannot go
on prints one line `error: <reason>` to stderr and exits with status 1 (2 for usage errors).
"""

from __future__ import annotations

import sys

import typer

from protocol.exceptions import ProtocolError

from .commands import account, chain, devnet, fault, l1, observe
from .devnet import DevnetError
from .http import ClientError
from .topology import TopologyError

app = typer.Typer(
    name="seqnet", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="seqnet: a devnet of a decentralized rollup sequencer. Start with `seqnet devnet up`.")

app.add_typer(devnet.app, name="devnet")
app.add_typer(account.app, name="account")
app.command()(chain.balance)
app.command()(chain.send)
app.command()(chain.tx)
app.command()(chain.block)
app.add_typer(chain.receipt_app, name="receipt")
app.command()(l1.deposit)
app.command()(l1.withdraw)
app.command("claim-withdrawal")(l1.claim_withdrawal)
app.command("force-tx")(l1.force_tx)
app.add_typer(l1.stake_app, name="stake")
app.add_typer(fault.app, name="fault")
app.command()(observe.status)
app.command()(observe.watch)
app.command()(observe.schedule)


def main(argv: list[str] | None = None) -> None:
    try:
        app(args=argv, prog_name="seqnet")
    except (ClientError, DevnetError, TopologyError, ProtocolError) as error:
        message = " ".join(str(error).split())
        sys.stderr.write(f"error: {message}\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    main()
