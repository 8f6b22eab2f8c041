"""The CLI without services: parsing, one-line errors, exit status, wallet, JSON output."""

from __future__ import annotations

import json
import socket

import pytest

from protocol.accounts import dev_accounts

from client.cli import main
from client.context import Env, format_tokens, parse_amount
from client.http import ClientError


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


@pytest.mark.parametrize("text, wei", [("1", 10**18), ("1.5", 15 * 10**17), ("2gwei", 2 * 10**9),
                                       ("100wei", 100), ("0.000000000000000001", 1), ("3 eth", 3 * 10**18)])
def test_parse_amount(text, wei):
    assert parse_amount(text) == wei


@pytest.mark.parametrize("text", ["abc", "-1", "0.0000000000000000001", ""])
def test_parse_amount_refuses_bad_input(text):
    with pytest.raises(ClientError):
        parse_amount(text)


def test_format_tokens_keeps_thousands():
    assert format_tokens(35_000 * 10**18, 0) == "35,000"
    assert format_tokens(15 * 10**17) == "1.5"
    assert format_tokens(0) == "0"


def test_unreachable_node_fails_with_one_line_and_status_1(capsys, tmp_path):
    port = closed_port()
    code, out, err = run(capsys, "balance", "0", "--dir", str(tmp_path), "--l1", f"http://127.0.0.1:{port}",
                         "--rpc", f"http://127.0.0.1:{port}/rpc")
    assert code == 1
    assert err.startswith("error: cannot reach") and err.count("\n") == 1


@pytest.mark.parametrize("argv", [
    ["balance", "0x123"],
    ["send", "--to", "0xnothex", "--value", "1"],
    ["send", "--to", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "--value", "lots"],
    ["devnet", "up", "--sequencers", "9"],
    ["devnet", "up", "--fault", "7:reorder"],
    ["tx", "0x1234"],
    ["fault", "show"],                      # no admin token in the directory
    ["fault", "set", "seq2", "teleport", "--admin-token", "t"],
    ["fault", "clear", "seq9", "--admin-token", "t"],
])
def test_bad_input_fails_with_one_line(capsys, tmp_path, argv):
    code, out, err = run(capsys, *argv, "--dir", str(tmp_path))
    assert code == 1, (out, err)
    assert err.startswith("error: ") and err.count("\n") == 1


def test_usage_error_exits_2(capsys):
    code, _out, _err = run(capsys, "send", "--value", "1")
    assert code == 2


def test_wallet_new_import_list(capsys, tmp_path):
    code, out, _ = run(capsys, "account", "new", "--name", "alice", "--dir", str(tmp_path), "--json")
    assert code == 0
    alice = json.loads(out)
    assert alice["name"] == "alice" and alice["address"].startswith("0x")
    key = "0x" + dev_accounts(10)[3].private_key.hex()
    code, out, _ = run(capsys, "account", "import", key, "--name", "bob", "--dir", str(tmp_path), "--json")
    assert json.loads(out)["address"] == dev_accounts(10)[3].checksum_address
    code, _out, err = run(capsys, "account", "import", key, "--dir", str(tmp_path))
    assert code == 1 and "already" in err
    code, out, _ = run(capsys, "account", "list", "--dir", str(tmp_path), "--json")
    rows = json.loads(out)
    assert [r["name"] for r in rows[-2:]] == ["alice", "bob"]
    assert rows[9]["role"] == "operator of seq1" and rows[5]["role"].startswith("operator of ranger1")
    env = Env(tmp_path)
    assert env.resolve_signer("alice", None)[0].hex() == alice["address"][2:].lower()
    assert env.resolve_signer("1", None)[0] == dev_accounts(10)[1].address


def test_endpoints_come_from_the_devnet_dir_then_compose_defaults(tmp_path):
    env = Env(tmp_path)
    assert env.l1_url == "http://127.0.0.1:8600" and env.rpc_url == "http://127.0.0.1:8545/rpc"
    (tmp_path / "endpoints.json").write_text(json.dumps({
        "chain_id": 7357, "l1": "http://127.0.0.1:1234",
        "sequencers": [{"name": "seq1", "rpc": "http://127.0.0.1:2000/rpc", "rest": "http://127.0.0.1:2000",
                        "node_key": "0x" + "11" * 32, "faults": ["reorder"]},
                       {"name": "seq2", "rpc": "http://127.0.0.1:2001/rpc", "rest": "http://127.0.0.1:2001",
                        "node_key": "0x" + "22" * 32}],
        "rangers": [], "accounts": []}))
    env = Env(tmp_path)
    assert env.l1_url == "http://127.0.0.1:1234"
    assert env.rpc_url == "http://127.0.0.1:2001/rpc"  # an honest one by default
    assert env.rest_url == "http://127.0.0.1:2001"
    assert env.resolve_sequencer("seq2") == "0x" + "22" * 32
    assert Env(tmp_path, rpc="http://x:1/rpc").rpc_url == "http://x:1/rpc"


def test_receipt_verify_offline(capsys, tmp_path):
    from protocol.chainbuilder import devnet_node_key
    from protocol.receipts import receipt_to_json, sign_receipt

    receipt = sign_receipt(devnet_node_key(0), 7357, b"\x01" * 32, 5, 0, b"\x02" * 32)
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"chain_id": 7357, "receipt": receipt_to_json(receipt)}))
    code, out, _ = run(capsys, "receipt", "verify", str(path), "--offline", "--json", "--dir", str(tmp_path))
    assert code == 0 and json.loads(out)["signature_valid"] is True
    path.write_text(json.dumps({"chain_id": 1, "receipt": receipt_to_json(receipt)}))
    code, out, _ = run(capsys, "receipt", "verify", str(path), "--offline", "--json", "--dir", str(tmp_path))
    assert code == 1 and json.loads(out)["signature_valid"] is False
