"""The fixture the sequencer suites share."""

from __future__ import annotations

import pytest

from .sequencer_net import assert_unchanged, sequencer_state


@pytest.fixture
def unchanged(seq):
    """Every node's state is the same after the test as before it (the module's `seq`)."""
    before = [sequencer_state(node) for node in seq.net.nodes]
    yield
    seq.call(seq.net.drain)
    for node, state in zip(seq.net.nodes, before):
        assert_unchanged(state, sequencer_state(node), f"the test (at {node.settings.name})")
