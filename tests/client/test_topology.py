"""The devnet's one description: counts, keys, stakes, roles, faults, rendering."""

from __future__ import annotations

import pytest

from protocol.accounts import dev_accounts
from protocol.chainbuilder import DEVNET_STAKES_TOKENS, devnet_node_key

from client.topology import (
    TopologyError,
    build_topology,
    compute_genesis_time_ms,
    compute_service_settings,
    parse_fault,
    render_argv,
    render_env,
)


def test_default_topology_is_four_staked_sequencers_and_one_ranger():
    topology = build_topology()
    assert [s.name for s in topology.services] == ["l1", "seq1", "seq2", "seq3", "seq4", "ranger1"]
    assert tuple(s.stake_tokens for s in topology.sequencers) == DEVNET_STAKES_TOKENS
    assert topology.warnings() == []
    accounts = dev_accounts(10)
    assert [s.operator_address for s in topology.sequencers] == [accounts[i].address for i in (9, 8, 7, 6)]
    assert topology.rangers[0].operator_address == accounts[5].address
    assert [s.node_key for s in topology.sequencers] == [devnet_node_key(i).public for i in range(4)]
    users = [a.address for a in topology.user_accounts]
    assert users == [accounts[i].address for i in range(5)]


def test_devnet_params_finalize_fast():
    params = build_topology().params
    assert params.l1_block_ms <= 2000 and params.challenge_window_l1_blocks <= 10
    assert params.is_devnet


def test_three_unequal_sequencers_warn_that_the_largest_stalls_the_chain():
    warnings = build_topology(sequencers=3).warnings()
    assert len(warnings) == 1 and "seq1" in warnings[0] and "stalls" in warnings[0]


@pytest.mark.parametrize("kwargs", [{"sequencers": 0}, {"sequencers": 5}, {"rangers": 3},
                                    {"slot_ms": 10}, {"faults": ["5:reorder"]},
                                    {"faults": ["2:sleepy"]}, {"faults": ["reorder"]},
                                    {"param_changes": {"no_such": 1}},
                                    {"param_changes": {"challenge_window_l1_blocks": 0}}])
def test_invalid_topology_is_refused_with_a_reason(kwargs):
    with pytest.raises(TopologyError):
        build_topology(**kwargs)


def test_fault_goes_to_the_named_sequencer():
    assert parse_fault("2:reorder", 4) == (2, "reorder")
    topology = build_topology(faults=["2:reorder", "2:censor"])
    assert topology.sequencers[1].faults == ("reorder", "censor")
    seq2 = topology.services[2]
    assert seq2.settings["fault"] == ["reorder", "censor"]


def test_settings_render_as_flags_and_as_environment():
    seq1 = build_topology().services[1]
    settings = compute_service_settings(seq1, host="127.0.0.1", port=9000, data_dir="/d",
                                        params_file="/p.json", l1_url="http://l1", public_url="http://me")
    argv = render_argv(settings)
    assert argv[:4] == ["--host", "127.0.0.1", "--port", "9000"]
    assert "--node-key-seed" in argv and "--stake-tokens" in argv and "--l1-url" in argv
    env = render_env("SEQNET_SEQUENCER_", dict(settings, fault=["reorder"]))
    assert env["SEQNET_SEQUENCER_STAKE_TOKENS"] == "35000"
    assert env["SEQNET_SEQUENCER_FAULT"] == '["reorder"]'
    assert render_argv({"fault": ["a", "b"]}) == ["--fault", "a", "--fault", "b"]


def test_genesis_leaves_time_to_register_before_the_first_snapshot():
    params = build_topology().params
    genesis = compute_genesis_time_ms(params, now_ms=1_000_000_123, lead_ms=5000)
    assert genesis % 1000 == 0
    assert genesis - params.lookahead_slots * params.slot_ms >= 1_000_000_123 + 5000
