"""The sequencer's jobs, one module per job, each a `tick(node, now_ms)` driven by run_loop."""
