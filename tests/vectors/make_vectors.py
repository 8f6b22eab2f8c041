"""Golden state roots from the EF's executable spec (ethereum-execution), for tests/protocol/test_state.py.

Runs in its own venv (`make vectors`): ethereum-execution pins an older coincurve than seqnet's.
Writes tests/vectors/genesis_roots.json: for each case, the accounts (address, nonce, balance)
and the state root that `ethereum.forks.cancun.state.state_root` computes for them. Accounts
have no code and no storage, as on seqnet's L2.

Spec: docs/spec/trie.md#golden-vectors
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from ethereum.forks.cancun.fork_types import Account
from ethereum.forks.cancun.state import State, set_account, state_root
from ethereum_types.bytes import Bytes20
from ethereum_types.numeric import U256, Uint

OUTPUT = Path(__file__).with_name("genesis_roots.json")

DEV_ADDRESSES = [
    # m/44'/60'/0'/0/i of "test test test test test test test test test test test junk"
    # (the anvil/hardhat dev mnemonic), derived with eth-account.
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
    "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
    "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
    "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
    "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
]
DEV_BALANCE = 10_000 * 10**18


def compute_root(accounts: list[tuple[str, int, int]]) -> str:
    state = State()
    for address, nonce, balance in accounts:
        set_account(
            state,
            Bytes20(bytes.fromhex(address[2:])),
            Account(nonce=Uint(nonce), balance=U256(balance), code=b""),
        )
    return "0x" + bytes(state_root(state)).hex()


def make_cases() -> list[dict]:
    rng = random.Random(20260101)
    random_accounts = []
    for _ in range(1_000):
        address = "0x" + rng.randbytes(20).hex()
        nonce = rng.choice([0, 1, rng.randrange(2**16), rng.randrange(2**64)])
        balance = rng.choice([0, 1, rng.randrange(10**18), rng.randrange(2**256)])
        random_accounts.append((address, nonce, balance))
    cases = {
        "empty": [],
        "one_account": [("0x" + "11" * 20, 1, 10**18)],
        "one_zero_account": [("0x" + "00" * 20, 0, 0)],
        "dev_accounts": [(address, 0, DEV_BALANCE) for address in DEV_ADDRESSES],
        "random_1000": random_accounts,
    }
    return [
        {
            "name": name,
            "accounts": [{"address": a, "nonce": n, "balance": str(b)} for a, n, b in accounts],
            "state_root": compute_root(accounts),
        }
        for name, accounts in cases.items()
    ]


def render(cases: list[dict]) -> str:
    """JSON with one account per line, so diffs stay readable."""
    lines = [
        "{",
        ' "generator": "tests/vectors/make_vectors.py, ethereum-execution 2.20.0, ethereum.forks.cancun.state.state_root",',
        ' "note": "accounts are [address, nonce, balance as a decimal string]; no code, no storage",',
        ' "cases": [',
    ]
    for i, case in enumerate(cases):
        rows = [json.dumps([a["address"], a["nonce"], a["balance"]]) for a in case["accounts"]]
        lines.append(
            f'  {{"name": {json.dumps(case["name"])}, "state_root": {json.dumps(case["state_root"])}, "accounts": ['
        )
        lines.extend(f"   {row}," for row in rows[:-1])
        if rows:
            lines.append(f"   {rows[-1]}")
        lines.append("  ]}" + ("," if i + 1 < len(cases) else ""))
    lines += [" ]", "}", ""]
    text = "\n".join(lines)
    json.loads(text)
    return text


def main() -> None:
    cases = make_cases()
    OUTPUT.write_text(render(cases))
    for case in cases:
        print(f"{case['name']:>16}  {len(case['accounts']):>5} accounts  {case['state_root']}")


if __name__ == "__main__":
    main()
