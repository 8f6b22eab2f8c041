from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from l1mock.app import create_app
from l1mock.settings import L1Settings
from nodekit.loop import FakeClock
from nodekit.settings import write_params_file

from .helpers import L1_START_MS, L1Client, make_params


def make_settings(tmp_path, params, database_url: str = "", **changes) -> L1Settings:
    params_file = tmp_path / "params.json"
    write_params_file(params_file, params)
    return L1Settings(data_dir=tmp_path / "l1", params_file=params_file, clock_enabled=False,
                      database_url=database_url, **changes)


@pytest.fixture
def params():
    return make_params()


@pytest.fixture
def l1(tmp_path, params):
    app = create_app(make_settings(tmp_path, params), clock=FakeClock(L1_START_MS))
    with TestClient(app) as client:
        yield L1Client(client, params)
