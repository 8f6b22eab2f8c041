"""Prometheus metrics of one L1 mock app (its own registry: several apps share a process in
tests and the embedded devnet).

Spec: docs/spec/l1.md#metrics
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from nodekit.metrics import make_registry


class L1Metrics:
    def __init__(self) -> None:
        self.registry = make_registry()
        r = self.registry
        self.calls = Counter("seqnet_l1_calls_total", "Signed calls by method and outcome",
                             ["method", "outcome"], registry=r)
        self.fraud_proofs = Counter("seqnet_l1_fraud_proofs_total",
                                    "Fraud proofs processed, by kind and result",
                                    ["kind", "result"], registry=r)
        self.l1_head = Gauge("seqnet_l1_head", "Latest L1 block number", registry=r)
        self.accepted_head = Gauge("seqnet_l1_accepted_l2_head",
                                   "Number of the newest accepted L2 block", registry=r)
        self.finalized_head = Gauge("seqnet_l1_finalized_l2_head",
                                    "Number of the newest finalized L2 block", registry=r)
        self.queue_length = Gauge("seqnet_l1_queue_items", "Queue items ever enqueued", registry=r)
        self.queue_pending = Gauge("seqnet_l1_queue_pending",
                                   "Queue items not yet consumed by the accepted chain", registry=r)
        self.sequencers = Gauge("seqnet_l1_sequencers", "Registered sequencers", registry=r)
        self.jailed = Gauge("seqnet_l1_sequencers_jailed", "Jailed sequencers", registry=r)
        self.slashes = Gauge("seqnet_l1_slashes", "Slashes so far", registry=r)
