"""End-to-end: a ranger killed (SIGKILL) before the fault and restarted mid-scenario resumes
from its database, catches up with L1, proves the fault and reports verified blocks."""

from __future__ import annotations

import pytest

try:
    from .test_ranger_support import HEALTH_TIMEOUT_S, Scenario, hx, start_devnet, wait_for
except ImportError:
    from test_ranger_support import HEALTH_TIMEOUT_S, Scenario, hx, start_devnet, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

FAULTY = 3
HONEST = (0, 1, 3)


def test_ranger_restarted_mid_scenario_still_reports(tmp_path):
    # a long challenge window: the faulty block must stay challengeable while the ranger
    # is down and restarting (a minute or more when the machine is loaded); this test does
    # not wait for finality
    with start_devnet(tmp_path / "net", FAULTY, "bad_state_root", start_faulty=False,
                      challenge_window_l1_blocks=120, unbonding_l1_blocks=120) as net:
        s = Scenario(net)
        try:
            s.send_until("the ranger verifying blocks",
                         lambda: s.ranger.get("/stats")["blocks_verified"] >= 1, 180, HONEST)
            net.kill("ranger1")
            # the fault happens while the ranger is down
            net.restart("seq3", health_timeout_s=HEALTH_TIMEOUT_S)
            s.send_until("the faulty block on L1",
                         lambda: any(b["producer"] == hx(s.sequencer_spec(FAULTY).node_key)
                                     for b in s.l1.get("/blocks", {"limit": 20})), 120, HONEST)
            net.restart("ranger1", health_timeout_s=HEALTH_TIMEOUT_S)
            report = s.send_until("an accepted invalid_state proof",
                                  lambda: s.accepted_report("invalid_state"), 180, HONEST)
            assert report["offender"] == hx(s.sequencer_spec(FAULTY).node_key)
            wait_for("reported verified blocks",
                     lambda: s.ranger.get("/stats")["blocks_reported"] >= 1, 60)
            proofs = [p for p in s.l1.get("/fraud-proofs", {"limit": 1000})
                      if p["evidence_hash"] == report["evidence_hash"]]
            assert len(proofs) == 1
        finally:
            s.close()
