"""End-to-end: a ranger killed mid-scenario and restarted resumes from its database, catches up
with L1 and still proves the fault and reports verified blocks."""

from __future__ import annotations

import time

import pytest

try:
    from .test_ranger_support import ACCOUNTS, Scenario, require_services, wait_for
except ImportError:
    from test_ranger_support import ACCOUNTS, Scenario, require_services, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]


def test_ranger_restarted_mid_scenario_still_reports(tmp_path):
    require_services()
    from client.devnet import Devnet

    with Devnet.start(tmp_path / "net", sequencers=4, rangers=1,
                      faults=["3:bad_state_root"]) as net:
        s = Scenario(net)
        try:
            wait_for("the ranger verifying blocks",
                     lambda: s.ranger.get("/stats")["blocks_verified"] >= 1, 60)
            net.kill("ranger1")
            for i in range(6):
                s.send_transfer(ACCOUNTS[i % 2], ACCOUNTS[2].address, via=0)
                time.sleep(0.5)
            net.restart("ranger1")
            report = s.wait_for_report("invalid_state")
            assert report["offender"] == "0x" + s.sequencer_spec(3).node_key.hex()
            wait_for("reported verified blocks",
                     lambda: s.ranger.get("/stats")["blocks_reported"] >= 1, 60)
            proofs = [p for p in s.l1.get("/fraud-proofs")
                      if p["evidence_hash"] == report["evidence_hash"]]
            assert len(proofs) == 1
        finally:
            s.close()
