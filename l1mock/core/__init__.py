"""The L1 contract as plain Python: state, calls, clock ticks. No I/O."""
