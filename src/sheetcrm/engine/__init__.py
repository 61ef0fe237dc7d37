"""The pure engine: rule tabs, validation, scoring, routing, stages, metrics and sync
planning. Plain data and ``now`` in, a Plan out: no I/O, no clock, no environment
(tests/test_layers.py checks it)."""
