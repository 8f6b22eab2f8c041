"""End-to-end: a sequencer started with `censor` is caught by the ranger, proven on L1,
slashed (delegators pro rata), jailed and left out of the next epoch; the ranger is paid;
honest transactions all finalize. Real processes over HTTP."""

from __future__ import annotations

import pytest

try:
    from .test_ranger_support import FAULT_KIND, run_fault_scenario
except ImportError:
    from test_ranger_support import FAULT_KIND, run_fault_scenario

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]


def test_fault_censor(tmp_path):
    report = run_fault_scenario(tmp_path, "censor")
    assert report["kind"] == FAULT_KIND["censor"]
