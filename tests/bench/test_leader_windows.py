"""bench/ingest_bench.py's leader-phase helpers: the intake slot and its windows, the leader
schedule across epochs, the body budget per wrk thread, the windows file, the schedule check.
No processes, no network."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bench import ingest_bench as ib
from protocol.chainbuilder import DEVNET_STAKES_TOKENS, devnet_node_key
from protocol.constants import TOKEN
from protocol.params import devnet_params
from protocol.schedule import SequencerSet, compute_schedule
from sequencer.core import producer

GENESIS = 1_700_000_000_000


def params(slot_ms: int = 1000, epoch_slots: int = 32):
    return devnet_params(genesis_time_ms=GENESIS, slot_ms=slot_ms, epoch_slots=epoch_slots)


def start(slot: int, p) -> int:
    return p.genesis_time_ms + slot * p.slot_ms


def test_seal_margin_is_the_producers():
    for slot_ms in (5, 10, 99, 250, 1000, 1001, 5000):
        node = SimpleNamespace(params=SimpleNamespace(slot_ms=slot_ms))
        assert ib.seal_margin_ms(slot_ms) == producer.seal_margin_ms(node)
    assert ib.seal_margin_ms(1000) == 100
    assert ib.seal_margin_ms(250) == 25
    assert ib.seal_margin_ms(5) == 1
    assert ib.seal_margin_ms(5000) == 100


def test_intake_slot_at_and_around_the_seal_margin():
    p = params()
    s = 7
    end = start(s + 1, p)
    assert ib.intake_slot_at(start(s, p), p) == s
    assert ib.intake_slot_at(end - 101, p) == s
    assert ib.intake_slot_at(end - 100, p) == s + 1   # the seal window belongs to slot s+1
    assert ib.intake_slot_at(end - 1, p) == s + 1
    assert ib.intake_slot_at(end, p) == s + 1
    assert ib.intake_slot_at(end + 899, p) == s + 1
    assert ib.intake_slot_at(end + 900, p) == s + 2
    assert ib.intake_slot_at(GENESIS - 1, p) == -1
    assert ib.intake_slot_at(GENESIS, p) == 0
    assert ib.intake_slot_at(GENESIS + 900, p) == 1


@pytest.mark.parametrize("slot_ms", [1000, 250, 150])
def test_intake_slot_at_agrees_with_the_producer(slot_ms):
    p = params(slot_ms=slot_ms)

    def current_slot(now_ms: int) -> int:
        return -1 if now_ms < p.genesis_time_ms else (now_ms - p.genesis_time_ms) // p.slot_ms

    node = SimpleNamespace(params=p, current_slot=current_slot)
    for now in range(GENESIS - 3 * slot_ms, GENESIS + 5 * slot_ms, 7):
        assert ib.intake_slot_at(now, p) == producer.intake_slot(node, now), now


def test_intake_window_is_where_the_intake_slot_holds():
    p = params()
    begin, end = ib.intake_window_ms(12, p)
    assert (begin, end) == (start(12, p) - 100, start(13, p) - 100)
    assert ib.intake_slot_at(begin - 1, p) == 11
    assert ib.intake_slot_at(begin, p) == 12
    assert ib.intake_slot_at(end - 1, p) == 12
    assert ib.intake_slot_at(end, p) == 13


def test_windows_clip_merge_and_skip_the_genesis_slot():
    p = params()
    threads = {1: 1, 2: 2, 3: 2, 4: 3, 5: 1}
    windows = ib.intake_windows(GENESIS - 500, start(5, p) + 50, p, threads.__getitem__)
    assert windows == [
        (start(1, p) - 100, start(2, p) - 100, 1),
        (start(2, p) - 100, start(4, p) - 100, 2),   # slots 2 and 3: one window
        (start(4, p) - 100, start(5, p) - 100, 3),
        (start(5, p) - 100, start(5, p) + 50, 1),    # clipped at the end
    ]
    # a start inside a window clips it; an empty interval has none
    clipped = ib.intake_windows(start(4, p) + 10, start(4, p) + 20, p, threads.__getitem__)
    assert clipped == [(start(4, p) + 10, start(4, p) + 20, 3)]
    assert ib.intake_windows(start(4, p), start(4, p), p, threads.__getitem__) == []


def test_windows_tile_the_interval_without_gaps():
    p = params(slot_ms=250)
    schedule = ib.LeaderSchedule(ib.devnet_members(), p)
    keys = {devnet_node_key(i).public: i + 1 for i in range(4)}
    a, b = start(3, p) + 17, start(90, p) + 3
    windows = ib.intake_windows(a, b, p, lambda slot: keys[schedule.leader(slot)])
    assert windows[0][0] == a and windows[-1][1] == b
    for (_, end, thread), (begin, _, following) in zip(windows, windows[1:]):
        assert end == begin and thread != following
    # every instant's window is its intake slot's leader's
    for t in range(a, b, 37):
        window = next(w for w in windows if w[0] <= t < w[1])
        assert window[2] == keys[schedule.leader(ib.intake_slot_at(t, p))]


def test_leader_schedule_across_an_epoch_boundary():
    p = params(epoch_slots=8)
    members = ib.devnet_members()
    schedule = ib.LeaderSchedule(members, p)
    epoch0 = compute_schedule(SequencerSet(epoch=0, members=members), p)
    epoch1 = compute_schedule(SequencerSet(epoch=1, members=members), p)
    assert [schedule.leader(s) for s in range(8)] == list(epoch0)
    assert [schedule.leader(s) for s in range(8, 16)] == list(epoch1)
    assert epoch1 == epoch0   # same set: priorities restart at 0 in every epoch
    # the seal window of slot 7 (epoch 0) belongs to slot 8, the first of epoch 1
    keys = {devnet_node_key(i).public: i + 1 for i in range(4)}
    windows = ib.intake_windows(start(7, p) + 800, start(8, p) + 200, p,
                                lambda slot: keys[schedule.leader(slot)])
    boundary = start(8, p) - 100
    thread7, thread8 = keys[epoch0[7]], keys[epoch1[0]]
    if thread7 == thread8:
        assert windows == [(start(7, p) + 800, start(8, p) + 200, thread7)]
    else:
        assert windows == [(start(7, p) + 800, boundary, thread7),
                           (boundary, start(8, p) + 200, thread8)]


def test_devnet_members_are_the_devnet_stakes_sorted_by_key():
    members = ib.devnet_members()
    assert len(members) == 4
    assert [m.node_key for m in members] == sorted(m.node_key for m in members)
    by_key = {m.node_key: m.stake_wei for m in members}
    for i, tokens in enumerate(DEVNET_STAKES_TOKENS[:4]):
        assert by_key[devnet_node_key(i).public] == tokens * TOKEN


def test_max_lead_slots_wraps_around_the_epoch():
    a, b = b"a", b"b"
    assert ib.max_lead_slots((a, b, a, a), a, 2) == 2
    assert ib.max_lead_slots((a, b, b, a), a, 2) == 2       # a | a across the boundary
    assert ib.max_lead_slots((a, b, b, b), a, 3) == 1
    assert ib.max_lead_slots((a, b, b, b), a, 9) == 3       # longer than an epoch
    assert ib.max_lead_slots((a, b), b"c", 5) == 0
    assert ib.max_lead_slots((), a, 5) == 0


@pytest.mark.parametrize("duration_s", [3.0, 4.0, 10.0])
def test_leader_bodies_cover_any_phase_position(duration_s):
    """For every start of a `duration_s` phase (50 ms steps over an epoch), the time a thread
    spends in its windows at `tps` needs no more than its budget."""
    p = params()
    members = ib.devnet_members()
    keys = [devnet_node_key(i).public for i in range(4)]
    tps = 4000
    bodies = ib.leader_bodies_per_thread(tps, duration_s, p, members, keys)
    schedule = ib.LeaderSchedule(members, p)
    thread_of = {key: t for t, key in enumerate(keys)}
    length = int(duration_s * 1000)
    worst = [0] * 4
    for offset in range(0, 33 * p.slot_ms, 50):
        a = start(2, p) + offset
        spent = [0] * 4
        for begin, end, t in ib.intake_windows(a, a + length, p,
                                               lambda s: thread_of[schedule.leader(s)]):
            spent[t] += end - begin
        worst = [max(w, x) for w, x in zip(worst, spent)]
    for t in range(4):
        assert worst[t] * tps / 1000 <= bodies[t] - 200, (t, worst, bodies)
    # bounded: not four full phases' worth
    assert sum(bodies) < 4 * (tps * duration_s + 200)
    assert sum(bodies) >= tps * duration_s


def test_windows_file_format(tmp_path):
    path = tmp_path / "windows"
    ib.write_windows(path, [(1000, 1900, 1), (1900, 2900, 4)])
    assert path.read_text() == "1000 1900 1\n1900 2900 4\n"


def test_schedule_check_counts_mismatches_and_unknown_slots():
    p = params(epoch_slots=8)
    schedule = ib.LeaderSchedule(ib.devnet_members(), p)
    rows = [{"slot": s, "leader": "0x" + schedule.leader(s).hex()} for s in range(8)]
    rows[3] = {"slot": 3, "leader": "0x" + "00" * 32}
    check = ib.check_schedule(schedule, {0: rows, 1: []}, range(2, 11))
    assert check == {"slots": 9, "checked": 6, "mismatched": 1}
