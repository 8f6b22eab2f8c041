"""The leader schedule: docs/spec/schedule.md's worked examples as whole sequences, and its
requirements (fairness, determinism, order independence) as properties."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.constants import TOKEN
from protocol.exceptions import (BeforeGenesis, EmptySequencerSet, InvalidSequencerSet,
                                 ProtocolError, SlotOutsideEpoch)
from protocol.params import ChainParams
from protocol.schedule import (Member, SequencerSet, compute_epoch, compute_epoch_start_slot,
                               compute_leader, compute_schedule, compute_sequencer_set,
                               compute_slot, compute_slot_start_ms, compute_snapshot_time_ms)

NAMES = "ABCDEFGH"


def node_key(name: str) -> bytes:
    """Node keys ordered as their names: A < B < C ... (the tie-break order)."""
    return bytes([0xA0 + NAMES.index(name)]) * 32


def make_set(powers: dict[str, int], epoch: int = 0) -> SequencerSet:
    members = [Member(node_key(name), bytes([NAMES.index(name) + 1]) * 20, power * TOKEN)
               for name, power in powers.items()]
    return SequencerSet(epoch, tuple(sorted(members, key=lambda m: m.node_key)))


def names(leaders) -> str:
    return "".join(NAMES[leader[0] - 0xA0] for leader in leaders)


# --- worked examples (docs/spec/schedule.md#worked-example) --------------------------------


def test_worked_example_powers_1_2_3():
    params = ChainParams(epoch_slots=12)
    schedule = compute_schedule(make_set({"A": 1, "B": 2, "C": 3}), params)
    assert names(schedule) == "CBACBC" "CBACBC"


def test_worked_example_devnet_stakes():
    params = ChainParams(epoch_slots=32)
    schedule = compute_schedule(make_set({"A": 35_000, "B": 30_000, "C": 25_000, "D": 20_000}),
                                params)
    # One period of 22 slots (35:30:25:20 = 7:6:5:4), then the period starts again.
    assert names(schedule) == "ABCDABCADBACBDACBADCBA" "ABCDABCADB"


def test_worked_example_cometbft_spec_4_2_2_2():
    # The sequence cometbft's proposer-selection.md gives for (p0,4), (p1,2), (p2,2), (p3,2).
    params = ChainParams(epoch_slots=20)
    schedule = compute_schedule(make_set({"A": 4, "B": 2, "C": 2, "D": 2}), params)
    assert names(schedule) == "ABCDA" * 4


def test_tie_goes_to_lowest_node_key():
    params = ChainParams(epoch_slots=4)
    assert names(compute_schedule(make_set({"A": 5, "B": 5}), params)) == "ABAB"
    assert names(compute_schedule(make_set({"B": 5, "C": 5, "A": 5}), params)) == "ABCA"


def test_single_member_leads_every_slot():
    params = ChainParams(epoch_slots=8)
    assert names(compute_schedule(make_set({"C": 20_000}), params)) == "C" * 8


# --- requirements ---------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=6),
       st.integers(min_value=0, max_value=40))
def test_fairness_every_window_of_total_power_slots(powers, offset):
    sequencer_set = make_set(dict(zip(NAMES, powers)))
    total = sequencer_set.total_power
    params = ChainParams(epoch_slots=total * 2 + offset + 1)
    schedule = compute_schedule(sequencer_set, params)
    for start in (0, offset % total, offset):
        counts = Counter(schedule[start:start + total])
        assert {m.node_key: counts[m.node_key] for m in sequencer_set.members} == \
            {m.node_key: m.power for m in sequencer_set.members}


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=8),
       st.randoms(use_true_random=False))
def test_independent_of_member_order_and_deterministic(powers, rng):
    members = [Member(node_key(name), b"\x01" * 20, power * TOKEN)
               for name, power in zip(NAMES, powers)]
    params = ChainParams(epoch_slots=64)
    reference = compute_schedule(compute_sequencer_set(3, members, params.replace(
        min_sequencer_stake_wei=TOKEN)), params)
    shuffled = list(members)
    rng.shuffle(shuffled)
    again = compute_schedule(compute_sequencer_set(3, shuffled, params.replace(
        min_sequencer_stake_wei=TOKEN)), params)
    assert again == reference
    assert _uncached(make_set(dict(zip(NAMES, powers)), epoch=3), params) == reference


def _uncached(sequencer_set: SequencerSet, params: ChainParams) -> tuple[bytes, ...]:
    from protocol.schedule import _run_proposer_priority
    return _run_proposer_priority(sequencer_set, params.epoch_slots)


def test_twice_the_stake_leads_twice_as_often_interleaved():
    params = ChainParams(epoch_slots=30)
    schedule = names(compute_schedule(make_set({"A": 40_000, "B": 20_000}), params))
    assert schedule.count("A") == 2 * schedule.count("B") == 20
    assert "AAA" not in schedule and "BB" not in schedule


def test_schedule_is_same_every_epoch_for_same_members():
    params = ChainParams(epoch_slots=16)
    powers = {"A": 3, "B": 7, "C": 1}
    assert compute_schedule(make_set(powers, epoch=0), params) == \
        compute_schedule(make_set(powers, epoch=9), params)


def test_power_is_whole_tokens():
    member = Member(node_key("A"), b"\x01" * 20, 20_000 * TOKEN + TOKEN - 1)
    assert member.power == 20_000
    # Fractions of a token do not change the schedule.
    params = ChainParams(epoch_slots=10)
    exact = make_set({"A": 2, "B": 1})
    dusty = SequencerSet(0, (Member(node_key("A"), b"\x01" * 20, 2 * TOKEN + 999),
                             Member(node_key("B"), b"\x02" * 20, TOKEN + 5)))
    assert compute_schedule(exact, params) == compute_schedule(dusty, params)


# --- compute_leader -------------------------------------------------------------------------


def test_compute_leader_matches_schedule_across_epoch():
    params = ChainParams(epoch_slots=32)
    sequencer_set = make_set({"A": 35_000, "B": 30_000, "C": 25_000, "D": 20_000}, epoch=5)
    schedule = compute_schedule(sequencer_set, params)
    start = compute_epoch_start_slot(5, params)
    assert [compute_leader(sequencer_set, start + i, params) for i in range(32)] == list(schedule)


def test_compute_leader_refuses_slot_of_other_epoch():
    params = ChainParams(epoch_slots=32)
    sequencer_set = make_set({"A": 1}, epoch=2)
    for slot in (63, 96, -1):
        with pytest.raises(SlotOutsideEpoch):
            compute_leader(sequencer_set, slot, params)


def test_empty_set_has_no_leader():
    params = ChainParams()
    empty = SequencerSet(4, ())
    assert empty.total_power == 0 and not empty.has_quorum([])
    with pytest.raises(EmptySequencerSet):
        compute_schedule(empty, params)
    with pytest.raises(EmptySequencerSet):
        compute_leader(empty, 4 * params.epoch_slots, params)
    assert issubclass(EmptySequencerSet, ProtocolError)


def test_compute_leader_is_cached_and_cheap():
    import time
    params = ChainParams(epoch_slots=32)
    members = {name: 20_000 + i for i, name in enumerate(NAMES)}
    sequencer_set = make_set(members, epoch=1)
    compute_leader(sequencer_set, 32, params)
    equal_copy = make_set(members, epoch=1)
    started = time.perf_counter()
    for i in range(10_000):
        compute_leader(equal_copy, 32 + i % 32, params)
    per_call_us = (time.perf_counter() - started) / 10_000 * 1e6
    assert per_call_us < 100, per_call_us  # about 1 us here; loose for a busy CI


# --- the set --------------------------------------------------------------------------------


def test_sequencer_set_lookup_and_quorum():
    sequencer_set = make_set({"A": 35_000, "B": 30_000, "C": 25_000, "D": 20_000})
    assert sequencer_set.total_power == 110_000
    assert sequencer_set.get_member(node_key("B")).power == 30_000
    assert sequencer_set.get_member(b"\x00" * 32) is None
    # 2/3 of 110,000 is 73,333.3: any three of the four make a quorum, no two do.
    assert sequencer_set.has_quorum([node_key("B"), node_key("C"), node_key("D")])
    assert not sequencer_set.has_quorum([node_key("A"), node_key("B")])
    # Duplicates count once, strangers not at all.
    assert not sequencer_set.has_quorum([node_key("A"), node_key("A"), node_key("B"),
                                         b"\x07" * 32])


def test_quorum_needs_strictly_more_than_two_thirds():
    sequencer_set = make_set({"A": 2, "B": 1})
    assert not sequencer_set.has_quorum([node_key("A")])          # 2 * 3 == 3 * 2
    assert sequencer_set.has_quorum([node_key("A"), node_key("B")])


def test_sequencer_set_refuses_bad_members():
    a = Member(node_key("A"), b"\x01" * 20, TOKEN)
    b = Member(node_key("B"), b"\x01" * 20, TOKEN)
    with pytest.raises(InvalidSequencerSet, match="sorted"):
        SequencerSet(0, (b, a))
    with pytest.raises(InvalidSequencerSet, match="sorted"):
        SequencerSet(0, (a, a))
    with pytest.raises(InvalidSequencerSet, match="no voting power"):
        SequencerSet(0, (Member(node_key("A"), b"\x01" * 20, TOKEN - 1),))
    with pytest.raises(InvalidSequencerSet, match="node key"):
        SequencerSet(0, (Member(b"\x01" * 31, b"\x01" * 20, TOKEN),))
    with pytest.raises(InvalidSequencerSet, match="operator"):
        SequencerSet(0, (Member(node_key("A"), b"\x01" * 19, TOKEN),))


def test_compute_sequencer_set_applies_minimum_stake_and_sorts():
    params = ChainParams()
    candidates = [Member(node_key("C"), b"\x03" * 20, 25_000 * TOKEN),
                  Member(node_key("A"), b"\x01" * 20, 19_999 * TOKEN),
                  Member(node_key("B"), b"\x02" * 20, 20_000 * TOKEN)]
    sequencer_set = compute_sequencer_set(7, candidates, params)
    assert sequencer_set.epoch == 7
    assert [m.node_key for m in sequencer_set.members] == [node_key("B"), node_key("C")]
    with pytest.raises(InvalidSequencerSet):
        compute_sequencer_set(7, candidates + [candidates[0]], params)


def test_sequencer_set_is_hashable_and_equal_by_content():
    assert make_set({"A": 1, "B": 2}) == make_set({"B": 2, "A": 1})
    assert hash(make_set({"A": 1, "B": 2})) == hash(make_set({"A": 1, "B": 2}))
    assert make_set({"A": 1}, epoch=1) != make_set({"A": 1}, epoch=2)


# --- time -----------------------------------------------------------------------------------


def test_slots_and_epochs():
    params = ChainParams(genesis_time_ms=1_000_000, slot_ms=1000, epoch_slots=32,
                         lookahead_slots=8)
    assert compute_slot(1_000_000, params) == 0
    assert compute_slot(1_000_999, params) == 0
    assert compute_slot(1_001_000, params) == 1
    assert compute_slot_start_ms(5, params) == 1_005_000
    assert compute_epoch(31, params) == 0 and compute_epoch(32, params) == 1
    assert compute_epoch_start_slot(3, params) == 96
    assert compute_snapshot_time_ms(1, params) == 1_000_000 + 32_000 - 8_000
    assert compute_snapshot_time_ms(0, params) < params.genesis_time_ms
    with pytest.raises(BeforeGenesis):
        compute_slot(999_999, params)


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=1, max_value=10_000),
       st.integers(min_value=0, max_value=10**12))
def test_slot_contains_its_time(genesis, slot_ms, offset):
    params = ChainParams(genesis_time_ms=genesis, slot_ms=slot_ms)
    slot = compute_slot(genesis + offset, params)
    start = compute_slot_start_ms(slot, params)
    assert start <= genesis + offset < start + slot_ms


def test_random_large_sets_are_fair_over_a_long_epoch():
    rng = random.Random(7)
    powers = {name: rng.randint(1, 40) for name in NAMES}
    sequencer_set = make_set(powers)
    params = ChainParams(epoch_slots=sequencer_set.total_power * 3)
    counts = Counter(compute_schedule(sequencer_set, params))
    assert {name: counts[node_key(name)] for name in NAMES} == \
        {name: 3 * power for name, power in powers.items()}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=10), min_size=1, max_size=5))
def test_interleaving_no_member_bunches_its_slots(powers):
    import math
    sequencer_set = make_set(dict(zip(NAMES, powers)))
    total = sequencer_set.total_power
    schedule = compute_schedule(sequencer_set, ChainParams(epoch_slots=2 * total))
    for member in sequencer_set.members:
        for k in range(1, total + 1):
            most = max(schedule[s:s + k].count(member.node_key) for s in range(total))
            assert most <= math.ceil(member.power * k / total) + 1
