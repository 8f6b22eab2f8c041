"""The L1 commands without services: how a call's result reads, and the refusals a user meets
before anything is signed (the end-to-end flow is tests/e2e/test_cli_l1_flow.py)."""

from __future__ import annotations

import socket

from client.cli import main
from client.commands.l1 import describe_result


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def test_describe_result_speaks_tokens_and_l1_blocks():
    assert describe_result({"stake": str(1000 * 10**18)}) == "stake now 1,000 tokens"
    assert describe_result({"release_l1_block": 84}) == "releasable from L1 block 84"
    assert describe_result({"amount": "52941176470588233"}) == "amount 0.052941 tokens"
    assert describe_result({"node_key": "0xab"}) == "node key 0xab"
    assert describe_result({}) == "" and describe_result(None) == ""


def test_claim_withdrawal_refuses_a_malformed_hash(capsys):
    code, _out, err = run(capsys, "claim-withdrawal", "0x1234", "--l1",
                          f"http://127.0.0.1:{closed_port()}", "--rpc",
                          f"http://127.0.0.1:{closed_port()}/rpc")
    assert code == 1
    assert err.strip() == ("error: transaction hash '0x1234' must be 32 bytes of hex "
                           "(0x + 64 digits)")


def test_claim_withdrawal_says_when_the_sequencer_is_unreachable(capsys):
    port = closed_port()
    code, _out, err = run(capsys, "claim-withdrawal", "0x" + "ab" * 32, "--l1",
                          f"http://127.0.0.1:{closed_port()}", "--rpc",
                          f"http://127.0.0.1:{port}/rpc")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert err.startswith(f"error: cannot reach http://127.0.0.1:{port}/rpc")
