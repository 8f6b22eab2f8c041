"""Locking pool: register_sequencer, update_sequencer, delegate, undelegate, withdraw,
claim_rewards, unjail, register_ranger, unregister_ranger; GET /sequencers, /rangers."""

from __future__ import annotations

from protocol.constants import TOKEN

from ..helpers import ACCOUNTS, NODE_KEYS, amount, hx


def register(l1, who=0, key=0, stake=25_000, **changes):
    args = dict(node_key=hx(NODE_KEYS[key].public), endpoint="http://127.0.0.1:9000",
                stake=amount(stake), commission_bps=500)
    args.update(changes)
    return args


def test_register_sequencer(l1):
    l1.call(0, "register_sequencer", **register(l1))
    seq = l1.get(f"/sequencers/{hx(NODE_KEYS[0].public)}")
    assert seq["self_stake"] == amount(25_000) and seq["status"] == "active"
    assert seq["operator"] == hx(ACCOUNTS[0].address) and seq["commission_bps"] == 500
    assert l1.get(f"/sequencers/{hx(ACCOUNTS[0].address)}")["node_key"] == seq["node_key"]
    account = l1.get(f"/accounts/{hx(ACCOUNTS[0].address)}")
    assert int(account["balance"]) == 975_000 * TOKEN
    assert account["sequencer"] == seq["node_key"]


def test_register_sequencer_rejections(l1):
    l1.reject(0, "register_sequencer", "StakeTooLow", **register(l1, stake=19_999))
    l1.reject(0, "register_sequencer", "InvalidCall",
              **register(l1, commission_bps=10_001))
    l1.reject(0, "register_sequencer", "InvalidCall", **register(l1, endpoint="ftp://x"))
    l1.reject(0, "register_sequencer", "InvalidCall", **register(l1, node_key="0x" + "00" * 31))
    l1.call(0, "register_sequencer", **register(l1))
    l1.reject(1, "register_sequencer", "AlreadyRegistered", **register(l1, who=1, key=0))
    l1.reject(0, "register_sequencer", "AlreadyRegistered", **register(l1, key=1))
    from protocol.accounts import generated_accounts
    poor = generated_accounts(1)[0]
    l1.reject(poor, "register_sequencer", "InsufficientFunds", **register(l1, key=2))


def test_update_sequencer(l1):
    l1.reject(0, "update_sequencer", "NotRegistered", commission_bps=1)
    l1.call(0, "register_sequencer", **register(l1))
    l1.reject(0, "update_sequencer", "InvalidCall")
    l1.call(0, "update_sequencer", endpoint="http://10.0.0.1:1", commission_bps=42)
    seq = l1.get(f"/sequencers/{hx(NODE_KEYS[0].public)}")
    assert seq["endpoint"] == "http://10.0.0.1:1" and seq["commission_bps"] == 42


def test_delegate_undelegate_withdraw(l1, params):
    l1.call(0, "register_sequencer", **register(l1))
    key = hx(NODE_KEYS[0].public)
    assert l1.call(5, "delegate", sequencer=key, amount=amount(10_000)) == {"stake": amount(10_000)}
    seq = l1.get(f"/sequencers/{key}")
    assert seq["delegated"] == amount(10_000) and seq["total_stake"] == amount(35_000)
    l1.reject(5, "undelegate", "InsufficientStake", sequencer=key, amount=amount(10_001))
    l1.reject(5, "withdraw", "NothingToWithdraw")
    result = l1.call(5, "undelegate", sequencer=key, amount=amount(4_000))
    assert result["release_l1_block"] == l1.contract.head_number + params.unbonding_l1_blocks
    seq = l1.get(f"/sequencers/{key}")
    assert seq["delegated"] == amount(6_000) and seq["unbonding_total"] == amount(4_000)
    account = l1.get(f"/accounts/{hx(ACCOUNTS[5].address)}")
    assert account["unbonding"][0]["amount"] == amount(4_000)
    assert account["stakes"] == [{"sequencer": key, "amount": amount(6_000)}]
    l1.reject(5, "withdraw", "StillUnbonding")
    l1.mine(params.unbonding_l1_blocks)
    assert l1.call(5, "withdraw") == {"amount": amount(4_000)}
    assert int(l1.get(f"/accounts/{hx(ACCOUNTS[5].address)}")["balance"]) == 994_000 * TOKEN


def test_delegate_rejections(l1):
    l1.reject(5, "delegate", "UnknownSequencer", sequencer=hx(NODE_KEYS[0].public),
              amount=amount(1))
    l1.call(0, "register_sequencer", **register(l1))
    l1.reject(5, "delegate", "InsufficientFunds", sequencer=hx(NODE_KEYS[0].public),
              amount=amount(2_000_000))
    l1.reject(5, "delegate", "UnknownSequencer", sequencer="0x" + "11" * 20, amount=amount(1))


def test_operator_can_undelegate_self_stake_and_becomes_inactive(l1):
    l1.call(0, "register_sequencer", **register(l1))
    l1.call(0, "undelegate", sequencer=hx(ACCOUNTS[0].address), amount=amount(10_000))
    assert l1.get(f"/sequencers/{hx(NODE_KEYS[0].public)}")["status"] == "inactive"


def test_claim_rewards_requires_a_pending_reward(l1):
    l1.reject(0, "claim_rewards", "NothingToClaim")


def test_unjail_rejections(l1):
    l1.reject(0, "unjail", "NotRegistered")
    l1.call(0, "register_sequencer", **register(l1))
    l1.reject(0, "unjail", "NotJailed")


def test_register_and_unregister_ranger(l1, params):
    key = hx(NODE_KEYS[6].public)
    l1.reject(6, "register_ranger", "StakeTooLow", node_key=key, bond=amount(999))
    l1.call(6, "register_ranger", node_key=key, bond=amount(1_000))
    rangers = l1.get("/rangers")
    assert rangers[0]["node_key"] == key and rangers[0]["bond"] == amount(1_000)
    l1.reject(6, "register_ranger", "AlreadyRegistered", node_key=hx(NODE_KEYS[7].public),
              bond=amount(1_000))
    l1.reject(7, "register_ranger", "AlreadyRegistered", node_key=key, bond=amount(1_000))
    l1.reject(7, "unregister_ranger", "NotRegistered")
    l1.call(6, "unregister_ranger")
    assert l1.get("/rangers") == []
    l1.mine(params.unbonding_l1_blocks)
    assert l1.call(6, "withdraw") == {"amount": amount(1_000)}


def test_report_verified_rejections(l1):
    l1.reject(6, "report_verified", "NotRegistered", block_hashes=["0x" + "00" * 32])
    l1.call(6, "register_ranger", node_key=hx(NODE_KEYS[6].public), bond=amount(1_000))
    l1.reject(6, "report_verified", "UnknownBlock", block_hashes=["0x" + "00" * 32])
    l1.reject(6, "report_verified", "InvalidCall", block_hashes=[])


def test_sequencer_reads(l1):
    l1.register_devnet()
    sequencers = l1.get("/sequencers")
    assert [s["total_stake"] for s in sequencers] == [amount(s) for s in (35_000, 30_000,
                                                                         25_000, 20_000)]
    l1.get(f"/sequencers/{'0x' + '00' * 32}", status=404)
    l1.get("/sequencers/0x12", status=400)
    l1.get("/sequencers/zz", status=400)
    l1.get(f"/accounts/{'0x' + '00' * 19}", status=400)
