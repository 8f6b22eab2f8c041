"""GET /events (long-poll with a cursor), /status, /params, /metrics, OpenAPI."""

from __future__ import annotations

import threading
import time

from ..helpers import ACCOUNTS, hx


def test_events_follow_with_a_cursor(l1):
    first = l1.get("/events", after=0)
    cursor = first["next"]
    l1.call(0, "transfer", to=hx(ACCOUNTS[1].address), amount="5")
    page = l1.get("/events", after=cursor)
    assert [e["kind"] for e in page["events"]] == ["Transfer"]
    assert page["events"][0]["l1_block"] == l1.contract.head_number
    assert page["next"] == page["events"][0]["id"] == page["last_event_id"]
    assert l1.get("/events", after=page["next"])["events"] == []


def test_events_filter_by_kind(l1):
    l1.call(0, "transfer", to=hx(ACCOUNTS[1].address), amount="5")
    page = l1.get("/events", kind="Transfer")
    assert {e["kind"] for e in page["events"]} == {"Transfer"}
    empty = l1.get("/events", kind="Slashed")
    assert empty["events"] == [] and empty["next"] == empty["last_event_id"]


def test_long_poll_wakes_on_a_new_event(l1):
    cursor = l1.get("/events")["last_event_id"]
    timer = threading.Timer(0.3, lambda: l1.node.tick(l1.contract.head_timestamp_ms + 10**6))
    # a tick far in the future snapshots epochs: an event
    started = time.monotonic()
    timer.start()
    page = l1.get("/events", after=cursor, wait_ms=5000)
    elapsed = time.monotonic() - started
    timer.join()
    assert page["events"] and elapsed < 4


def test_long_poll_times_out_empty(l1):
    cursor = l1.get("/events")["last_event_id"]
    started = time.monotonic()
    page = l1.get("/events", after=cursor, wait_ms=200)
    assert page["events"] == [] and 0.15 < time.monotonic() - started < 3


def test_status_params_metrics_openapi(l1):
    status = l1.get("/status")
    assert status["l1_head"] == l1.contract.head_number
    assert l1.get("/params")["min_sequencer_stake_wei"] == str(l1.params.min_sequencer_stake_wei)
    metrics = l1.client.get("/metrics").text
    assert "seqnet_l1_head" in metrics and "seqnet_l1_calls_total" in metrics
    paths = l1.get("/openapi.json")["paths"]
    for path in ("/calls", "/calls/submit_batch", "/calls/submit_fraud_proof", "/status",
                 "/accounts/{address}", "/sequencers", "/epochs/{epoch}", "/slots/{slot}",
                 "/batches", "/blocks/{number}", "/queue", "/fraud-proofs", "/slashes",
                 "/events"):
        assert path in paths, path


def test_bad_query_values_get_4xx(l1):
    assert l1.client.get("/events", params={"after": "x"}).status_code == 422
    assert l1.client.get("/blocks/abc").status_code == 422
    assert l1.client.get("/blocks", params={"limit": 0}).status_code == 422


def test_health_answers_once_serving(l1):
    health = l1.get("/health")
    assert health == {"status": "ok", "l1_head": l1.contract.head_number}
