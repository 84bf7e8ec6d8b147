"""torc's benchmarks against its peers: ``python -m bench run --help`` (docs/performance.md)."""
