"""NodeSettings and chain-parameter loading."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from nodekit.settings import NodeSettings, load_chain_params, write_params_file
from protocol.constants import TOKEN
from protocol.exceptions import InvalidParams
from protocol.params import ChainParams, devnet_params


class DemoSettings(NodeSettings):
    model_config = SettingsConfigDict(env_prefix="SEQNET_DEMO_", extra="ignore")
    db_filename: ClassVar[str] = "demo.sqlite3"
    port: int = 8700


def test_defaults_and_sqlite_url_under_data_dir(tmp_path):
    settings = DemoSettings(data_dir=tmp_path / "demo")
    assert settings.host == "127.0.0.1" and settings.port == 8700
    assert settings.database_url == f"sqlite:///{tmp_path}/demo/demo.sqlite3"
    assert settings.log_level == "info"
    assert load_chain_params(settings) == ChainParams()


def test_environment_with_prefix(monkeypatch, tmp_path):
    monkeypatch.setenv("SEQNET_DEMO_PORT", "9100")
    monkeypatch.setenv("SEQNET_DEMO_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("SEQNET_DEMO_DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("SEQNET_DEMO_GENESIS_TIME_MS", "1700000000000")
    settings = DemoSettings()
    assert settings.port == 9100 and settings.log_level == "debug"
    assert settings.database_url == "postgresql://u@h/db"
    assert load_chain_params(settings).genesis_time_ms == 1_700_000_000_000


def test_refuses_bad_values():
    with pytest.raises(ValidationError):
        DemoSettings(log_level="loud")
    with pytest.raises(ValidationError):
        DemoSettings(port=70000)


def test_params_file_overrides_then_genesis_time(tmp_path):
    path = tmp_path / "params.json"
    path.write_text(json.dumps({"slot_ms": 500, "epoch_slots": 16, "is_devnet": False,
                                "min_sequencer_stake_wei": 30_000 * TOKEN,
                                "genesis_time_ms": 5}))
    params = load_chain_params(DemoSettings(params_file=path, genesis_time_ms=99))
    assert (params.slot_ms, params.epoch_slots, params.is_devnet) == (500, 16, False)
    assert params.min_sequencer_stake_wei == 30_000 * TOKEN   # beyond 64 bits, exact
    assert params.genesis_time_ms == 99


def test_written_params_file_reads_back(tmp_path):
    params = devnet_params(genesis_time_ms=1234)
    write_params_file(tmp_path / "p" / "params.json", params)
    assert load_chain_params(DemoSettings(params_file=tmp_path / "p" / "params.json")) == params


@pytest.mark.parametrize("content, message", [
    ('{"slot_mss": 5}', "unknown chain parameters: slot_mss"),
    ('{"slot_ms": "500"}', "slot_ms must be an integer"),
    ('{"slot_ms": 1.5}', "slot_ms must be an integer"),
    ('{"slot_ms": true}', "slot_ms must be an integer"),
    ('{"is_devnet": 1}', "is_devnet must be true or false"),
    ('[1]', "JSON object"),
    ('{nope', "not JSON"),
    ('{"slot_ms": 0}', "slot_ms must be positive"),
])
def test_params_file_errors(tmp_path, content, message):
    path = tmp_path / "params.json"
    path.write_text(content)
    with pytest.raises(InvalidParams, match=message) as caught:
        load_chain_params(DemoSettings(params_file=path))
    assert str(path) in str(caught.value)


def test_missing_params_file(tmp_path):
    with pytest.raises(InvalidParams, match="cannot read"):
        load_chain_params(DemoSettings(params_file=tmp_path / "absent.json"))
