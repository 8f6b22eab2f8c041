"""`seqnet account new|list|import`: a devnet wallet in <dir>/wallet.json (plain keys, file mode
0600: for development keys only), beside the ten dev accounts of the anvil mnemonic."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table

from protocol.accounts import address_of, dev_accounts, to_checksum

from ..context import DEFAULT_DIR, DirOpt, Env, JsonOpt, console, new_private_key, parse_private_key
from ..http import ClientError
from ..topology import RANGER_OPERATOR_ACCOUNTS

app = typer.Typer(help="Keys: the dev accounts and a devnet wallet.", no_args_is_help=True)


def dev_role(index: int) -> str:
    if index >= 6:
        return f"operator of seq{10 - index}"
    if index in RANGER_OPERATOR_ACCOUNTS:
        return f"operator of ranger{RANGER_OPERATOR_ACCOUNTS.index(index) + 1} (if started)"
    return "user"


def _add(env: Env, private_key: bytes, name: str | None) -> dict[str, str]:
    accounts = env.wallet()
    address = to_checksum(address_of(private_key))
    if any(a["address"].lower() == address.lower() for a in accounts):
        raise ClientError(f"{address} is already in {env.wallet_path}")
    if name and any(a.get("name") == name for a in accounts):
        raise ClientError(f"the name {name!r} is taken in {env.wallet_path}")
    entry = {"name": name or f"account{len(accounts) + 1}", "address": address,
             "private_key": "0x" + private_key.hex()}
    env.save_wallet(accounts + [entry])
    return entry


@app.command()
def new(name: Annotated[Optional[str], typer.Option(help="A name to use with --from.")] = None,
        directory: DirOpt = DEFAULT_DIR, as_json: JsonOpt = False) -> None:
    """Generate a key and keep it in the devnet wallet."""
    env = Env(directory, as_json=as_json)
    entry = _add(env, new_private_key(), name)
    env.emit(entry, lambda: console.print(
        f"{entry['name']}: {entry['address']}\nprivate key {entry['private_key']}\n(kept in {env.wallet_path}; "
        f"fund it with `seqnet send --to {entry['address']} --value 10`)", highlight=False))


@app.command("import")
def import_(private_key: Annotated[str, typer.Argument(help="0x-hex private key.")],
            name: Annotated[Optional[str], typer.Option(help="A name to use with --from.")] = None,
            directory: DirOpt = DEFAULT_DIR, as_json: JsonOpt = False) -> None:
    """Keep an existing key in the devnet wallet."""
    env = Env(directory, as_json=as_json)
    entry = _add(env, parse_private_key(private_key), name)
    env.emit(entry, lambda: console.print(f"{entry['name']}: {entry['address']}", highlight=False))


@app.command("list")
def list_(keys: Annotated[bool, typer.Option("--keys", help="Show private keys.")] = False,
          directory: DirOpt = DEFAULT_DIR, as_json: JsonOpt = False) -> None:
    """The dev accounts (with their devnet roles) and the wallet's accounts."""
    env = Env(directory, as_json=as_json)
    rows = [{"name": str(i), "address": a.checksum_address, "private_key": "0x" + a.private_key.hex(),
             "role": dev_role(i)} for i, a in enumerate(dev_accounts(10))]
    rows += [dict(entry, role="wallet") for entry in env.wallet()]

    def render() -> None:
        table = Table(title="accounts (use --from NAME)")
        for column in ("name", "address", "role") + (("private key",) if keys else ()):
            table.add_column(column)
        for row in rows:
            table.add_row(row["name"], row["address"], row["role"], *((row["private_key"],) if keys else ()))
        console.print(table)

    env.emit(rows, render)
