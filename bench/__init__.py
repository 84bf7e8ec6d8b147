"""Benchmarks that print figures (they assert nothing): ``python -m bench --help``."""
