"""`seqnet fault`: make a running devnet sequencer cheat, or stop, without restarting it.

Talks to the sequencer's `PUT /admin/faults` with the devnet's admin token (`<dir>/admin_token`,
written by `seqnet devnet up`; or `--admin-token` / `SEQNET_ADMIN_TOKEN`). The kinds are
DESIGN.md section 8's; the sequencer refuses them unless the chain is a devnet.
"""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer
from rich.table import Table

from .. import http
from ..context import DEFAULT_DIR, DirOpt, Env, JsonOpt, console
from ..devnet import ADMIN_TOKEN_FILE
from ..http import ClientError
from ..topology import FAULT_KINDS

app = typer.Typer(help="Make a running sequencer cheat, or stop (devnet only): "
                       "set, clear, show.", no_args_is_help=True)

TokenOpt = Annotated[Optional[str], typer.Option(
    "--admin-token", help="The sequencers' admin token (default: <dir>/admin_token or "
                          "$SEQNET_ADMIN_TOKEN).")]


def _token(env: Env, given: str | None) -> str:
    token = given or os.environ.get("SEQNET_ADMIN_TOKEN")
    if token:
        return token
    path = env.directory / ADMIN_TOKEN_FILE
    try:
        return path.read_text().strip()
    except OSError:
        raise ClientError(f"no admin token: {path} is missing (start the devnet with `seqnet "
                          f"devnet up`, or pass --admin-token)") from None


def _rest(env: Env, name: str) -> str:
    for seq_name, url in env.sequencer_rest_urls:
        if seq_name == name:
            return url
    known = ", ".join(n for n, _ in env.sequencer_rest_urls)
    raise ClientError(f"no sequencer named {name!r} in {env.directory / 'endpoints.json'} "
                      f"(known: {known})")


def _put(env: Env, name: str, kinds: list[str], token: str) -> dict:
    for kind in kinds:
        if kind not in FAULT_KINDS:
            raise ClientError(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
    answer = http.request("PUT", _rest(env, name) + "/admin/faults", json_body={"faults": kinds},
                          headers={"Authorization": f"Bearer {token}"})
    return {"sequencer": name, "faults": answer["faults"]}


@app.command("set")
def set_faults(sequencer: Annotated[str, typer.Argument(help="seq1, seq2...")],
               kinds: Annotated[list[str], typer.Argument(help=f"One or more of: {', '.join(FAULT_KINDS)}.")],
               directory: DirOpt = DEFAULT_DIR, admin_token: TokenOpt = None,
               as_json: JsonOpt = False) -> None:
    """Replace the sequencer's fault flags with KINDS (from its next slot on)."""
    env = Env(directory, as_json=as_json)
    result = _put(env, sequencer, list(kinds), _token(env, admin_token))
    env.emit(result, lambda: console.print(
        f"{sequencer} now cheats: {', '.join(result['faults'])} (watch it with `seqnet status`)"))


@app.command("clear")
def clear_faults(sequencer: Annotated[str, typer.Argument(help="seq1, seq2...")],
                 directory: DirOpt = DEFAULT_DIR, admin_token: TokenOpt = None,
                 as_json: JsonOpt = False) -> None:
    """Remove every fault flag of the sequencer: it behaves honestly again."""
    env = Env(directory, as_json=as_json)
    result = _put(env, sequencer, [], _token(env, admin_token))
    env.emit(result, lambda: console.print(f"{sequencer} is honest again"))


@app.command("show")
def show_faults(directory: DirOpt = DEFAULT_DIR, admin_token: TokenOpt = None,
                as_json: JsonOpt = False) -> None:
    """The fault flags of every sequencer (unreachable ones are marked)."""
    env = Env(directory, as_json=as_json)
    token = _token(env, admin_token)
    rows = []
    for name, url in env.sequencer_rest_urls:
        try:
            faults = http.get(url + "/admin/faults",
                              headers={"Authorization": f"Bearer {token}"})["faults"]
            rows.append({"sequencer": name, "faults": faults})
        except ClientError as error:
            rows.append({"sequencer": name, "faults": None, "error": str(error)})

    def render() -> None:
        table = Table(title="fault flags")
        table.add_column("sequencer")
        table.add_column("faults")
        for row in rows:
            text = ", ".join(row["faults"]) if row["faults"] else \
                ("honest" if row["faults"] is not None else f"[red]{row['error']}[/red]")
            table.add_row(row["sequencer"], text)
        console.print(table)

    env.emit(rows, render)
