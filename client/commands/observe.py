"""Observation: `seqnet status`, `seqnet watch`, `seqnet schedule`."""

from __future__ import annotations

import time
from typing import Annotated, Any, Optional

import typer
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .. import http
from ..context import DEFAULT_DIR, DirOpt, Env, JsonOpt, L1Opt, RpcOpt, checksum, console, format_tokens
from ..http import ClientError

NEXT_LEADERS = 6


def _name(env: Env, node_key: str | None) -> str:
    if not node_key:
        return "-"
    return env.names_by_node_key().get(node_key.lower(), node_key[:10] + "…")


def _epoch(env: Env, epoch: int) -> dict[str, Any] | None:
    try:
        return http.get(f"{env.l1_url}/epochs/{epoch}", params={"schedule": "true"}, timeout_s=5)
    except http.RemoteError:
        return None


def collect_status(env: Env) -> dict[str, Any]:
    """Everything `seqnet status` shows, from the L1's and a sequencer's public APIs."""
    l1 = env.l1_status()
    sequencers = http.get(f"{env.l1_url}/sequencers")
    rangers = http.get(f"{env.l1_url}/rangers")
    try:
        slashes = http.get(f"{env.l1_url}/slashes")
    except http.RemoteError:
        slashes = []
    slot, epoch_number = l1.get("current_slot"), l1.get("current_epoch")
    epoch = _epoch(env, epoch_number) if epoch_number is not None else None
    leader = None
    next_leaders: list[dict[str, Any]] = []
    shares: dict[str, dict[str, Any]] = {}
    if epoch:
        total_slots = sum(m.get("slots", 0) for m in epoch["members"]) or 1
        for member in epoch["members"]:
            shares[member["node_key"].lower()] = {"slots": member.get("slots", 0),
                                                  "share": member.get("slots", 0) / total_slots,
                                                  "power": member.get("power")}
        schedule = epoch.get("schedule") or []
        start = epoch["start_slot"]
        if schedule and slot is not None and 0 <= slot - start < len(schedule):
            leader = schedule[slot - start]
        upcoming = []
        for s in range(slot + 1, slot + 1 + NEXT_LEADERS) if slot is not None else []:
            if 0 <= s - start < len(schedule):
                upcoming.append((s, schedule[s - start]))
            else:
                try:
                    upcoming.append((s, http.get(f"{env.l1_url}/slots/{s}", timeout_s=3).get("leader")))
                except ClientError:
                    break
        next_leaders = [{"slot": s, "node_key": key, "name": _name(env, key)} for s, key in upcoming]
    seq_rows = []
    for seq in sequencers:
        key = seq["node_key"].lower()
        seq_rows.append({
            "name": _name(env, key), "node_key": seq["node_key"], "operator": seq["operator"],
            "status": seq["status"], "total_stake": seq["total_stake"], "self_stake": seq["self_stake"],
            "delegated": seq["delegated"], "slots": shares.get(key, {}).get("slots", 0),
            "share": round(shares.get(key, {}).get("share", 0.0), 4), "produced": seq["produced"],
            "missed": seq["missed"], "slashed": seq["slashed"], "slashes": len(seq.get("slashes", [])),
            "jail_reason": seq.get("jail_reason", ""), "rewards": seq.get("rewards", "0"),
            "endpoint": seq.get("endpoint")})
    ranger_rows = [{"name": _name(env, r["node_key"]), "node_key": r["node_key"], "operator": r["operator"],
                    "bond": r["bond"], "verified": r["verified"], "rewards": r["rewards"]}
                   for r in rangers]
    heads: dict[str, Any] = {"unsafe": None, "attested": None, "safe": l1["accepted"]["number"],
                             "finalized": l1["finalized"]["number"]}
    sequencer_error = None
    try:
        seq_status = http.get(f"{env.rest_url}/status", timeout_s=3)
        for label in ("unsafe", "attested", "safe", "finalized"):
            value = seq_status.get(label) if isinstance(seq_status, dict) else None
            if value is None and isinstance(seq_status, dict) and isinstance(seq_status.get("heads"), dict):
                value = seq_status["heads"].get(label)
            if isinstance(value, dict):
                value = value.get("number")
            if isinstance(value, int) and label in ("unsafe", "attested"):
                heads[label] = value
    except ClientError as error:
        sequencer_error = str(error)
    if heads["unsafe"] is None:
        try:
            heads["unsafe"] = int(http.rpc(env.rpc_url, "eth_blockNumber", timeout_s=3), 16)
        except ClientError as error:
            sequencer_error = sequencer_error or str(error)
    if heads["attested"] is None and heads["unsafe"] is not None:
        heads["attested"] = max(0, heads["unsafe"] - 1)  # the tip's QC rides in its child
    return {"chain_id": l1["chain_id"], "l1_chain_id": l1["l1_chain_id"], "l1_head": l1["l1_head"],
            "slot": slot, "epoch": epoch_number,
            "leader": {"node_key": leader, "name": _name(env, leader)} if leader else None,
            "next_leaders": next_leaders, "heads": heads, "sequencers": seq_rows, "rangers": ranger_rows,
            "slashes": slashes, "queue": {"length": l1["queue_length"], "head": l1["queue_head"]},
            "fraud_proofs": l1.get("fraud_proofs", 0), "sequencer_error": sequencer_error}


STATUS_STYLE = {"active": "green", "jailed": "red", "inactive": "yellow"}


def render_status(data: dict[str, Any]) -> Group:
    leader = data["leader"]["name"] if data.get("leader") else "-"
    upcoming = " ".join(f"{n['slot']}:{n['name']}" for n in data["next_leaders"]) or "-"
    heads = data["heads"]
    head_line = "  ".join(f"{label} #{heads[label] if heads[label] is not None else '?'}"
                          for label in ("unsafe", "attested", "safe", "finalized"))
    header = Text.from_markup(
        f"[bold]slot {data['slot']}[/bold] (epoch {data['epoch']})  leader [bold cyan]{leader}[/bold cyan]  "
        f"next: {upcoming}\nheads: {head_line}   L1 block {data['l1_head']}   queue "
        f"{data['queue']['length'] - data['queue']['head']} pending   fraud proofs {data['fraud_proofs']}")
    seqs = Table(title="sequencers", title_justify="left")
    for column in ("name", "status", "stake", "delegated", "slots", "produced", "missed", "slashed", "operator"):
        seqs.add_column(column, justify="right" if column in ("stake", "delegated", "slots", "produced", "missed", "slashed") else "left")
    for seq in data["sequencers"]:
        style = STATUS_STYLE.get(seq["status"], "white")
        status = f"[{style}]{seq['status']}[/{style}]" + (f" ({seq['jail_reason']})" if seq["jail_reason"] else "")
        seqs.add_row(seq["name"], status, format_tokens(seq["total_stake"], 0), format_tokens(seq["delegated"], 0),
                     f"{seq['slots']} ({seq['share']:.0%})", str(seq["produced"]), str(seq["missed"]),
                     format_tokens(seq["slashed"], 0) + (f" x{seq['slashes']}" if seq["slashes"] else ""),
                     checksum(seq["operator"]))
    parts: list[Any] = [header, seqs]
    if data["rangers"]:
        rangers = Table(title="rangers", title_justify="left")
        for column in ("name", "bond", "verified blocks", "rewards", "operator"):
            rangers.add_column(column)
        for r in data["rangers"]:
            rangers.add_row(r["name"], format_tokens(r["bond"], 0), str(r["verified"]),
                            format_tokens(r["rewards"], 4), checksum(r["operator"]))
        parts.append(rangers)
    if data["slashes"]:
        slashes = Table(title="slashes", title_justify="left")
        for column in ("id", "sequencer", "reason", "amount", "reporter paid", "L1 block"):
            slashes.add_column(column)
        names = {s["node_key"].lower(): s["name"] for s in data["sequencers"]}
        for s in data["slashes"]:
            slashes.add_row(str(s["id"]), names.get(s["node_key"].lower(), s["node_key"][:10]), s["reason"],
                            format_tokens(s["amount"], 2), format_tokens(s.get("reporter_paid", "0"), 2),
                            str(s["l1_block"]))
        parts.append(slashes)
    if data.get("sequencer_error"):
        parts.append(Text(f"sequencer: {data['sequencer_error']}", style="yellow"))
    return Group(*parts)


def status(directory: DirOpt = DEFAULT_DIR, l1: L1Opt = None, rpc: RpcOpt = None,
           as_json: JsonOpt = False) -> None:
    """Current slot and leader, next leaders, sequencers (stake, share of slots, produced,
    missed, status, slashes), rangers, head labels."""
    env = Env(directory, l1, rpc, as_json)
    data = collect_status(env)
    env.emit(data, lambda: console.print(render_status(data)))


def watch(interval: Annotated[float, typer.Option(help="Seconds between refreshes.")] = 1.0,
          duration: Annotated[float, typer.Option(help="Stop after this many seconds (0: until Ctrl-C).")] = 0.0,
          directory: DirOpt = DEFAULT_DIR, l1: L1Opt = None, rpc: RpcOpt = None) -> None:
    """A live view of `seqnet status`, until Ctrl-C or `--duration` seconds."""
    if interval <= 0 or duration < 0:
        raise ClientError("--interval must be > 0 and --duration >= 0")

    def snapshot() -> Any:
        env = Env(directory, l1, rpc)
        try:
            return render_status(collect_status(env))
        except ClientError as error:
            return Text(f"{time.strftime('%H:%M:%S')} {error}", style="red")

    # a bounded watch is what scripts and tests run; its last frame stays on screen
    deadline = time.monotonic() + duration if duration else None
    try:
        with Live(snapshot(), console=console, refresh_per_second=4, screen=False) as live:
            while deadline is None or time.monotonic() < deadline:
                pause = interval if deadline is None else min(interval, deadline - time.monotonic())
                time.sleep(max(pause, 0.0))
                live.update(snapshot())
    except KeyboardInterrupt:
        pass


def schedule(epoch: Annotated[Optional[int], typer.Option("--epoch", help="Epoch (default: current).")] = None,
             directory: DirOpt = DEFAULT_DIR, l1: L1Opt = None, as_json: JsonOpt = False) -> None:
    """The leader of every slot of an epoch, and each sequencer's share."""
    env = Env(directory, l1, None, as_json)
    if epoch is None:
        epoch = env.l1_status().get("current_epoch")
        if epoch is None:
            epoch = 0
    data = _epoch(env, epoch)
    if data is None:
        raise ClientError(f"epoch {epoch} is not snapshotted on L1 yet")
    schedule_keys = data.get("schedule") or []
    data["leaders"] = [{"slot": data["start_slot"] + i, "name": _name(env, key)} for i, key in enumerate(schedule_keys)]

    def render() -> None:
        table = Table(title=f"epoch {epoch}: slots {data['start_slot']}..{data['start_slot'] + len(schedule_keys) - 1}, "
                            f"snapshot at L1 block {data['snapshot_l1_block']}")
        for column in ("sequencer", "stake", "slots", "share"):
            table.add_column(column)
        total = sum(m.get("slots", 0) for m in data["members"]) or 1
        for m in sorted(data["members"], key=lambda m: _name(env, m["node_key"])):
            table.add_row(_name(env, m["node_key"]), format_tokens(m["stake"], 0), str(m.get("slots", 0)),
                          f"{m.get('slots', 0) / total:.0%}")
        console.print(table)
        line = " ".join(f"{item['slot']}:{item['name']}" for item in data["leaders"])
        console.print(line or "(no leaders: the set was empty)", highlight=False)

    env.emit(data, render)
