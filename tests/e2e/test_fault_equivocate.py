"""End-to-end: a sequencer started with `equivocate` is caught by the ranger, proven on L1,
slashed (delegators pro rata), jailed and left out of the next epoch; the ranger is paid;
honest transactions all finalize. Real processes over HTTP.

The quickest of the fault scenarios (the fault is in the faulty node's first block and needs
no user receipt), yet 97-130 s here with the machine lightly shared and over 3 minutes when
other devnets run: `slow`, like the others."""

from __future__ import annotations

import pytest

try:
    from .test_ranger_support import FAULT_KIND, run_fault_scenario
except ImportError:
    from test_ranger_support import FAULT_KIND, run_fault_scenario

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]


def test_fault_equivocate(tmp_path):
    report = run_fault_scenario(tmp_path, "equivocate")
    assert report["kind"] == FAULT_KIND["equivocate"]
