"""bench/run.py's pure helpers: percentiles, /proc parsing, missed slots, label delays, and the
shape of bench/results/run.json. No processes, no network."""

from __future__ import annotations

import math

import pytest

from bench import run

PROC_STAT = ("4242 (python -m (seq)) S 1 4242 4242 0 -1 4194560 31337 0 0 0 "
             "250 150 0 0 20 0 3 0 1234 456789 12345 18446744073709551615 1 1 0 0 0 0 0 "
             "16781312 17415 0 0 0 17 1 0 0 0 0 0")

PROC_STATUS = """Name:\tpython
Umask:\t0022
State:\tS (sleeping)
VmPeak:\t  812344 kB
VmSize:\t  812340 kB
VmHWM:\t  161024 kB
VmRSS:\t  150528 kB
Threads:\t3
"""


def test_percentiles_interpolate_between_ranks():
    values = list(range(1, 101))  # 1..100
    p = run.compute_percentiles(values)
    assert p == {"p50": 50.5, "p95": 95.05, "p99": 99.01}


def test_percentiles_of_one_value_and_of_none():
    assert run.compute_percentiles([7.0]) == {"p50": 7.0, "p95": 7.0, "p99": 7.0}
    assert run.compute_percentiles([]) == {"p50": None, "p95": None, "p99": None}
    assert run.compute_percentiles([3, 1, 2], (0, 100)) == {"p0": 1, "p100": 3}


def test_proc_stat_cpu_seconds_survive_parentheses_in_the_name():
    assert run.parse_proc_stat(PROC_STAT, clock_ticks=100) == pytest.approx(4.0)


def test_proc_status_rss_and_peak_rss():
    assert run.parse_proc_status(PROC_STATUS) == {"rss_kib": 150528, "peak_rss_kib": 161024}
    assert run.parse_proc_status("Name:\tzombie\n") == {"rss_kib": None, "peak_rss_kib": None}


def test_slot_window_keeps_only_whole_slots():
    genesis = 1_000_000
    # load from 2.5 s to 7.2 s after genesis, 1 s slots: slots 3, 4, 5, 6 are whole
    assert run.compute_slot_window(1_002.5, 1_007.2, genesis, 1000) == (3, 7)
    assert run.compute_slot_window(1_002.0, 1_004.0, genesis, 250) == (8, 16)
    assert run.compute_slot_window(1_002.5, 1_002.6, genesis, 1000) == (3, 3)


def test_missed_slots_counts_slots_without_a_canonical_block():
    result = run.compute_missed_slots([1, 2, 4, 5, 8, 12], 2, 10)
    assert result == {"slots": 8, "blocks": 4, "missed": 4, "missed_slots": [3, 6, 7, 9]}
    assert run.compute_missed_slots([], 5, 5)["missed"] == 0


def test_block_stats_count_orphans_as_not_attested():
    blocks = [{"number": n, "slot": s, "hash": f"0x{s}", "label": label, "transactions": 10 * n}
              for n, (s, label) in enumerate([(10, "finalized"), (11, "safe"), (13, "attested"),
                                              (14, "unsafe")], start=1)]
    observed = {"0x10": 10, "0x11": 11, "0x12": 12, "0x13": 13, "0x14": 14, "0x9": 9}
    stats = run.compute_block_stats(blocks, observed, 10, 15, 1000)
    assert stats["slots"] == 5 and stats["missed_slots"] == 1
    assert stats["missed_slot_numbers"] == [12]
    assert stats["blocks_signed"] == 5 and stats["orphaned"] == 1
    assert stats["attested_fraction"] == 0.6
    assert stats["blocks_per_s"] == 0.8
    assert stats["txs_per_block_max"] == 40


def test_label_delays_use_the_first_poll_that_reached_the_block():
    timeline = [(100.0, {"unsafe": 1, "attested": 0}),
                (100.5, {"unsafe": 2, "attested": 1}),
                (101.0, {"unsafe": 3, "attested": 1}),  # a poll answered by a lagging node
                (101.5, {"unsafe": 2, "attested": 3})]
    receipts = [("0xa", 99.9), ("0xb", 100.2), ("0xc", 100.6), ("0xd", 100.0)]
    tx_blocks = {"0xa": 1, "0xb": 2, "0xc": 4}
    out = run.compute_label_delays(receipts, tx_blocks, timeline, ("unsafe", "attested"))
    assert out["unsafe"]["n"] == 2 and out["unsafe"]["not_reached"] == 1
    assert out["unsafe"]["not_in_chain"] == 1
    assert out["unsafe"]["p50"] == pytest.approx((100 + 300) / 2)
    assert out["attested"]["n"] == 2
    assert out["attested"]["p99"] == pytest.approx(1300 - 1300 * 0.01 + 600 * 0.01, abs=0.01)


def test_label_delay_is_never_negative():
    out = run.compute_label_delays([("0xa", 10.3)], {"0xa": 1}, [(10.2, {"unsafe": 1})],
                                   ("unsafe",))
    assert out["unsafe"]["p50"] == 0.0


def test_ok_line_from_run_lua():
    tx_hash, answered = run.parse_ok_line("0xabc 1732480000123.5")
    assert tx_hash == "0xabc" and answered == pytest.approx(1732480000.1235)
    assert math.isnan(run.parse_ok_line("0xabc")[1])


def test_senders_per_phase():
    assert run.compute_senders(1000, 0) == (1000, 1)
    assert run.compute_senders(1000, 256) == (256, 4)
    assert run.compute_senders(100, 256) == (100, 1)


def test_shortest_clean_slot():
    rows = [{"slot_ms": 1000, "missed_slots": 0, "attested_fraction": 1.0},
            {"slot_ms": 500, "missed_slots": 0, "attested_fraction": 1.0},
            {"slot_ms": 250, "missed_slots": 2, "attested_fraction": 1.0},
            {"slot_ms": 200, "missed_slots": 0, "attested_fraction": 0.97},
            {"slot_ms": 150, "failed": "TimeoutError"}]
    assert run.compute_shortest_clean_slot(rows) == 500
    assert run.compute_shortest_clean_slot(rows[2:]) is None


def test_ratios_seqnet_over_peer():
    ours = {"paced": {"accepted_tps": 900.0, "probe": {"to_receipt_ms": {"p50": 600.0}}},
            "full": {"accepted_tps": 1500.0, "probe": {"to_receipt_ms": {"p50": None}}}}
    theirs = {"paced": {"accepted_tps": 1000.0, "probe": {"to_receipt_ms": {"p50": 300.0}}},
              "full": {"accepted_tps": 0.0, "probe": {"to_receipt_ms": {"p50": 10.0}}}}
    assert run.compute_ratios(ours, theirs) == {
        "paced": {"accepted_tps": 0.9, "time_to_receipt_p50": 2.0},
        "full": {"accepted_tps": None, "time_to_receipt_p50": None}}


def _phase(seqnet: bool) -> dict:
    phase = {"offered_tps": None, "accepted": 10, "accepted_tps": 5.0,
             "latency_ms": {"p50": 1.0, "p95": 2.0, "p99": 3.0},
             "probe": {"to_receipt_ms": {"p50": 1.0}}, "cpu_s": {"wrk": 0.1}}
    if seqnet:
        phase.update(to_label_ms={label: {} for label in run.LABELS}, blocks_per_s=1.0,
                     missed_slots=0)
    return phase


def test_result_shape_accepts_a_complete_report():
    report = {"bench": "run", "when": "now", "command": "bench/run.py", "settings": {},
              "machine": {"nproc": 2, "cpu_model": "x", "python": "3.12", "packages": {}},
              "seqnet": {"phases": {"paced": _phase(True)}, "peak_rss_mib": {"seq1": 150}},
              "peers": {"anvil": {"phases": {"paced": _phase(False)}, "peak_rss_mib": {}},
                        "ganache": {"skipped": "not installed"}},
              "sweep": {"rows": [{"slot_ms": 250, "missed_slots": 0, "attested_fraction": 1.0}],
                        "shortest_clean_slot_ms": 250}}
    assert run.check_result_shape(report) == []


def test_result_shape_names_what_is_missing():
    report = {"bench": "run", "machine": {"nproc": 2},
              "seqnet": {"phases": {"full": {**_phase(False), "latency_ms": {"p50": 1.0}}}},
              "sweep": {"rows": [{"slot_ms": 250}]}}
    problems = run.check_result_shape(report)
    assert "missing when" in problems
    assert "missing machine.cpu_model" in problems
    assert "missing seqnet.phases.full.latency_ms.p99" in problems
    assert "missing seqnet.phases.full.to_label_ms.finalized" in problems
    assert "missing seqnet.peak_rss_mib" in problems
    assert "missing sweep.shortest_clean_slot_ms" in problems
    assert "missing sweep.rows[].missed_slots" in problems
