"""The sequencer's Prometheus metrics, in a registry of its own (several nodes per process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from nodekit.metrics import LATENCY_BUCKETS_S, make_registry


class SequencerMetrics:
    def __init__(self) -> None:
        self.registry = r = make_registry()
        self.receipts = Counter("seqnet_sequencer_receipts_total", "Transactions receipted", registry=r)
        self.rejected = Counter("seqnet_sequencer_rejected_total", "Transactions refused",
                                ("reason",), registry=r)
        self.forwarded = Counter("seqnet_sequencer_forwarded_total",
                                 "Transactions forwarded to the leader", registry=r)
        self.blocks_produced = Counter("seqnet_sequencer_blocks_produced_total", "Blocks sealed",
                                       registry=r)
        self.slots_skipped = Counter("seqnet_sequencer_slots_skipped_total",
                                     "Own slots without a block (no QC for the parent, or a session that could not move onto it)", registry=r)
        self.speculative_sessions = Counter(
            "seqnet_sequencer_speculative_sessions_total",
            "Sessions opened in the seal window before the previous block arrived", registry=r)
        self.speculation_failed = Counter(
            "seqnet_sequencer_speculation_failed_total",
            "Speculative sessions whose transactions were not valid on the real block",
            registry=r)
        self.blocks_validated = Counter("seqnet_sequencer_blocks_validated_total",
                                        "Peer blocks validated", ("result",), registry=r)
        self.attestations = Counter("seqnet_sequencer_attestations_signed_total",
                                    "Attestations signed", registry=r)
        self.batches = Counter("seqnet_sequencer_batches_submitted_total", "Batches submitted",
                               registry=r)
        self.head = Gauge("seqnet_sequencer_head_number", "Head block number", ("label",), registry=r)
        self.mempool = Gauge("seqnet_sequencer_mempool_size", "Transactions in the mempool",
                             registry=r)
        self.seal_seconds = Histogram("seqnet_sequencer_seal_seconds", "Time to build and sign a "
                                      "block", buckets=LATENCY_BUCKETS_S, registry=r)
        self.validate_seconds = Histogram("seqnet_sequencer_validate_seconds",
                                          "Time to validate a peer block",
                                          buckets=LATENCY_BUCKETS_S, registry=r)
