"""docker-compose.yml is generated from the topology and is valid compose."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from client.compose import render_compose
from client.topology import build_topology

ROOT = Path(__file__).resolve().parents[2]


def test_committed_compose_file_equals_the_generated_one():
    committed = (ROOT / "docker-compose.yml").read_text()
    assert committed == render_compose(), \
        "docker-compose.yml is stale: run `.venv/bin/seqnet devnet compose -o docker-compose.yml`"


def test_compose_has_the_devnet_topology():
    yaml = pytest.importorskip("yaml")
    data = yaml.safe_load(render_compose())
    services = data["services"]
    assert list(services) == ["params", "l1", "seq1", "seq2", "seq3", "seq4", "ranger1"]
    stakes = [services[f"seq{i}"]["environment"]["SEQNET_SEQUENCER_STAKE_TOKENS"] for i in range(1, 5)]
    assert stakes == ["35000", "30000", "25000", "20000"]
    topology = build_topology()
    for seq, spec in zip(("seq1", "seq2", "seq3", "seq4"), topology.sequencers):
        env = services[seq]["environment"]
        assert env["SEQNET_SEQUENCER_NODE_KEY_SEED"] == spec.node_key_seed.hex()
        assert env["SEQNET_SEQUENCER_L1_URL"] == "http://l1:8600"
        assert services[seq]["depends_on"]["l1"]["condition"] == "service_healthy"
        assert "healthcheck" in services[seq]
    assert services["seq2"]["ports"] == ["8546:8545"]
    assert set(data["volumes"]) == {"params", "l1-data", "seq1-data", "seq2-data", "seq3-data",
                                    "seq4-data", "ranger1-data"}


def test_compose_file_is_valid_compose(tmp_path):
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed: cannot validate docker-compose.yml")
    (tmp_path / "docker-compose.yml").write_text(render_compose())
    result = subprocess.run([binary, "config", "-q"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
