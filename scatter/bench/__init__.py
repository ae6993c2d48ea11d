"""Benchmarks runnable as ``python -m scatter.bench.<name>``; figures go to docs/."""
