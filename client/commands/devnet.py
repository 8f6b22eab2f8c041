"""`seqnet devnet up|down|status|compose|params`."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from protocol.params import params_from_json, params_to_json

from .. import http
from ..compose import render_compose
from ..context import DEFAULT_DIR, DirOpt, Env, JsonOpt, console, err_console
from ..devnet import Devnet, read_json, read_pids, running_pids, stop_directory, write_json
from ..http import ClientError
from ..topology import FAULT_KINDS, GENESIS_LEAD_MS, TopologyError, build_topology, compute_genesis_time_ms

app = typer.Typer(help="Start, stop and inspect a local devnet.", no_args_is_help=True)


@app.command()
def up(
    sequencers: Annotated[Optional[int], typer.Option(help="Sequencers (1-4); default 4, or what DIR ran.")] = None,
    rangers: Annotated[Optional[int], typer.Option(help="Rangers (0-2); default 1.")] = None,
    slot_ms: Annotated[Optional[int], typer.Option("--slot-ms", help="Slot length; default 1000.")] = None,
    fault: Annotated[Optional[list[str]], typer.Option(
        "--fault", help=f"N:KIND makes sequencer N misbehave; KIND: {', '.join(FAULT_KINDS)}.")] = None,
    directory: DirOpt = DEFAULT_DIR,
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Start in the background and return.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Start an L1 mock, staked sequencers and rangers on 127.0.0.1 (resumes the chain in DIR)."""
    env = Env(directory, as_json=as_json)
    try:
        preview = build_topology(sequencers or 4, 1 if rangers is None else rangers, slot_ms or 1000,
                                 fault or [])
    except TopologyError as error:
        raise ClientError(str(error)) from None
    for warning in preview.warnings():
        err_console.print(f"[yellow]{warning}[/yellow]")
    resuming = (Path(directory) / "params.json").exists()
    env.say(("resuming the chain in " if resuming else "starting a new chain in ") + str(Path(directory).resolve()))
    with (err_console if as_json else console).status("starting the devnet") as spinner:
        def report(message: str) -> None:
            env.say(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}")
            spinner.update(message)

        net = Devnet.start(directory, sequencers, rangers, slot_ms, fault, prefer_default_ports=True,
                           report=report)
    endpoints = net.endpoints
    if as_json:
        env.emit(endpoints)
    else:
        print_endpoints(endpoints, net.skipped)
    if detach:
        pids = read_json(net.directory / "pids.json") or {}
        pids["launcher"] = None
        write_json(net.directory / "pids.json", pids)
        env.say(f"running in the background: `seqnet devnet down --dir {directory}` stops it; "
                f"logs in {net.directory / 'logs'}")
        return
    follow(net, env)


def print_endpoints(endpoints: dict, skipped: list[str] = ()) -> None:
    table = Table(title=f"seqnet devnet (chain id {endpoints['chain_id']}, L1 chain id "
                        f"{endpoints.get('l1_chain_id')})")
    for column in ("service", "url", "node key", "operator", "stake / role"):
        table.add_column(column)
    table.add_row("l1", endpoints["l1"], "", "", "L1 mock")
    for seq in endpoints["sequencers"]:
        role = f"{seq.get('stake_tokens', 0):,} tokens" + (f" [red]fault: {','.join(seq['faults'])}[/red]"
                                                            if seq.get("faults") else "")
        if not seq.get("running", True):
            role += " [yellow](not running)[/yellow]"
        table.add_row(seq["name"], seq["rpc"], seq["node_key"][:18] + "…", seq.get("operator", ""), role)
    for ranger in endpoints["rangers"]:
        role = "ranger" + ("" if ranger.get("running", True) else " [yellow](not running)[/yellow]")
        table.add_row(ranger["name"], ranger["rest"], ranger["node_key"][:18] + "…",
                      ranger.get("operator", ""), role)
    console.print(table)
    console.print("\nAvailable accounts (10,000 ETH on L2, 1,000,000 tokens on L1 each)")
    console.print("==================")
    for i, account in enumerate(endpoints["accounts"]):
        console.print(f"({i}) {account['address']}", highlight=False)
    console.print("\nPrivate keys\n==================")
    for i, account in enumerate(endpoints["accounts"]):
        console.print(f"({i}) {account['private_key']}", highlight=False)
    console.print("\nMnemonic: test test test test test test test test test test test junk "
                  "(dev accounts 5-9 operate the ranger and sequencers)")
    for message in skipped:
        console.print(f"[yellow]{message}[/yellow]")


LOG_KEYWORDS = ("error", "warning", "traceback", "slash", "jail", "fraud", "exception", "critical")


def follow(net: Devnet, env: Env) -> None:
    """Stream a compact live log until Ctrl-C or SIGTERM, then stop everything."""
    def on_term(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    positions = {name: r.log_path.stat().st_size for name, r in net.running.items()}
    env.say("[bold]devnet running[/bold] — Ctrl-C stops it. Live log (warnings, slashes; "
            f"full logs in {net.directory / 'logs'}):")
    last_summary = 0.0
    try:
        while True:
            for name, running in list(net.running.items()):
                if not running.is_running():
                    env.say(f"[red]{name} exited[/red]: {running.log_tail(3)}")
                    del net.running[name]
                    continue
                try:
                    with open(running.log_path, "rb") as log:
                        log.seek(positions.get(name, 0))
                        chunk = log.read()
                        positions[name] = log.tell()
                except OSError:
                    continue
                for line in chunk.decode(errors="replace").splitlines():
                    if any(word in line.lower() for word in LOG_KEYWORDS):
                        env.say(f"[cyan]{name:8}[/cyan] {line.strip()[:160]}")
            if time.monotonic() - last_summary >= 5:
                last_summary = time.monotonic()
                env.say(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {summary_line(net.url('l1'), env)}")
            time.sleep(1)
    except KeyboardInterrupt:
        env.say("stopping the devnet…")
    finally:
        net.stop()
        env.say("stopped")


def summary_line(l1_url: str, env: Env) -> str:
    try:
        status = http.get(f"{l1_url}/status", timeout_s=2)
    except ClientError as error:
        return f"L1 unreachable: {error}"
    names = env.names_by_node_key()
    leader = ""
    if status.get("current_slot") is not None:
        try:
            slot = http.get(f"{l1_url}/slots/{status['current_slot']}", timeout_s=2)
            leader = names.get((slot.get("leader") or "").lower(), (slot.get("leader") or "-")[:10])
        except ClientError:
            pass
    return (f"slot {status.get('current_slot')} leader {leader or '-'} | L1 #{status['l1_head']} | "
            f"safe #{status['accepted']['number']} finalized #{status['finalized']['number']} | "
            f"queue {status['queue_length'] - status['queue_head']} | slashes {status['slashes']}")


@app.command()
def down(directory: DirOpt = DEFAULT_DIR, as_json: JsonOpt = False) -> None:
    """Stop the devnet running in DIR (started with --detach or in another terminal)."""
    env = Env(directory, as_json=as_json)
    stopped = stop_directory(Path(directory), report=lambda m: env.say(m))
    if not stopped:
        env.say(f"no devnet running in {Path(directory).resolve()}")
    env.emit({"stopped": stopped}, lambda: None)


@app.command()
def status(directory: DirOpt = DEFAULT_DIR, as_json: JsonOpt = False) -> None:
    """Which services of the devnet in DIR run and answer."""
    env = Env(directory, as_json=as_json)
    endpoints = env.endpoints
    if not endpoints:
        raise ClientError(f"no devnet in {Path(directory).resolve()} (no endpoints.json): `seqnet devnet up`")
    pids = read_pids(Path(directory)).get("services", {})
    alive = set(running_pids(Path(directory)))
    rows = []
    services = [("l1", endpoints["l1"])] + [(s["name"], s["rest"]) for s in endpoints["sequencers"]] \
        + [(r["name"], r["rest"]) for r in endpoints["rangers"]]
    for name, url in services:
        pid = pids.get(name, {}).get("pid")
        rows.append({"name": name, "url": url, "pid": pid, "running": pid in alive,
                     "healthy": http.is_healthy(url + "/health") or http.is_healthy(url + "/status")})

    def render() -> None:
        table = Table(title=f"devnet in {Path(directory).resolve()}")
        for column in ("service", "url", "pid", "process", "http"):
            table.add_column(column)
        for row in rows:
            table.add_row(row["name"], row["url"], str(row["pid"] or "-"),
                          "[green]running[/green]" if row["running"] else "[red]stopped[/red]",
                          "[green]healthy[/green]" if row["healthy"] else "[red]down[/red]")
        console.print(table)

    env.emit({"dir": str(Path(directory).resolve()), "services": rows}, render)


@app.command()
def compose(
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Print docker-compose.yml for the default topology (the committed file is this output)."""
    text = render_compose()
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text)
        console.print(f"wrote {out}")


@app.command()
def params(
    out: Annotated[Path, typer.Option("--out", "-o", help="Params file to write.")],
    keep: Annotated[bool, typer.Option("--keep", help="Leave an existing file as it is (same chain).")] = False,
    lead_ms: Annotated[int, typer.Option("--lead-ms", help="Slot 0 starts this long after now (+ lookahead).")] = GENESIS_LEAD_MS,
    params_json: Annotated[Optional[str], typer.Option(
        "--params-json", envvar="SEQNET_PARAMS_JSON", help="Base parameters (JSON); default: the devnet's.")] = None,
) -> None:
    """Write a chain params file with genesis_time_ms = now + lead (the compose init step)."""
    if keep and out.exists():
        console.print(f"{out} exists: keeping it (the same chain)")
        return
    try:
        base = params_from_json(json.loads(params_json)) if params_json else build_topology().params
    except (ValueError, Exception) as error:  # noqa: BLE001 - InvalidParams or bad JSON
        raise ClientError(f"--params-json: {error}") from None
    result = base.replace(genesis_time_ms=compute_genesis_time_ms(base, lead_ms=lead_ms))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(params_to_json(result), indent=2) + "\n")
    os.replace(tmp, out)
    console.print(f"wrote {out} (genesis at {result.genesis_time_ms})")
