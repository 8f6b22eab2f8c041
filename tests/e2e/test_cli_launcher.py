"""The launcher against the real L1 mock (no sequencer needed): registration and stakes,
endpoints.json, the CLI's L1 commands, stop and resume of the same chain."""

from __future__ import annotations

import json

import pytest

from protocol.constants import TOKEN

from client.devnet import Devnet, is_alive, running_pids
from client.cli import main
from tests.client.clihelpers import Result, seqnet

pytestmark = pytest.mark.e2e


def run_cli(capsys, *argv: str, check: bool = True) -> Result:
    """The CLI in this process (fast); the slow suite runs it as a subprocess."""
    capsys.readouterr()
    try:
        main(list(argv))
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    if check:
        assert code == 0, (argv, out, err)
    return Result(code, out, err)


def test_launcher_registers_stakes_and_resumes_the_same_chain(tmp_path, capsys):
    directory = tmp_path / "net"
    with Devnet.start(directory, only=["l1"], wait_for_blocks=False) as net:
        endpoints = json.loads((directory / "endpoints.json").read_text())
        assert endpoints == net.endpoints
        assert endpoints["chain_id"] == 7357 and endpoints["l1"] == net.url("l1")
        assert [s["name"] for s in endpoints["sequencers"]] == ["seq1", "seq2", "seq3", "seq4"]
        assert all(set(s) >= {"name", "rpc", "rest", "node_key"} for s in endpoints["sequencers"])
        assert [r["name"] for r in endpoints["rangers"]] == ["ranger1"]
        assert len(endpoints["accounts"]) == 5 and endpoints["accounts"][0]["private_key"].startswith("0x")
        l1_pid = net.running["l1"].pid
        assert running_pids(directory) == [l1_pid]

        status = run_cli(capsys, "status", "--json", "--dir", str(directory)).json()
        by_name = {s["name"]: s for s in status["sequencers"]}
        assert [int(by_name[f"seq{i}"]["total_stake"]) // TOKEN for i in range(1, 5)] == [35_000, 30_000, 25_000, 20_000]
        assert all(s["status"] == "active" for s in status["sequencers"])
        assert status["rangers"][0]["name"] == "ranger1"
        if status["slot"] is not None and status["leader"]:
            shares = [by_name[f"seq{i}"]["slots"] for i in range(1, 5)]
            assert shares == sorted(shares, reverse=True) and shares[0] > shares[3]

        delegated = run_cli(capsys, "stake", "delegate", "--to", "seq4", "--amount", "1500", "--from", "2", "--json",
                           "--dir", str(directory)).json()
        assert delegated["method"] == "delegate"
        status = run_cli(capsys, "status", "--json", "--dir", str(directory)).json()
        seq4 = next(s for s in status["sequencers"] if s["name"] == "seq4")
        assert int(seq4["delegated"]) == 1500 * TOKEN

        # a bounded watch (a subprocess: the user's terminal) ends by itself with its last frame
        watched = seqnet("watch", "--duration", "2", "--interval", "0.5", "--dir", str(directory),
                         timeout=60)
        assert all(f"seq{i}" in watched.out for i in range(1, 5)), watched.out
        assert "21,500" in watched.out or "21500" in watched.out, watched.out  # seq4's new stake
        assert seqnet("watch", "--interval", "0", "--dir", str(directory), check=False).code == 1

        balance = run_cli(capsys, "balance", "2", "--json", "--dir", str(directory), check=False)
        assert balance.code == 0  # L1 answers even with no sequencer up
        assert int(balance.json()["l1"]["staked"]) == 1500 * TOKEN

        bad = run_cli(capsys, "stake", "delegate", "--to", "seq4", "--amount", "99999999", "--from", "2",
                     "--dir", str(directory), check=False)
        assert bad.code == 1 and bad.err.startswith("error: ") and bad.err.count("\n") == 1
        params = (directory / "params.json").read_text()
        port = net.ports["l1"]
    assert not is_alive(l1_pid)
    assert not (directory / "pids.json").exists()

    with Devnet.start(directory, only=["l1"], wait_for_blocks=False) as net:
        assert (directory / "params.json").read_text() == params
        assert net.ports["l1"] == port
        status = run_cli(capsys, "status", "--json", "--dir", str(directory)).json()
        seq4 = next(s for s in status["sequencers"] if s["name"] == "seq4")
        assert int(seq4["delegated"]) == 1500 * TOKEN  # the same chain, replayed
        down = seqnet("devnet", "down", "--dir", str(directory), "--json")
        assert down.json()["stopped"] == ["l1"]
