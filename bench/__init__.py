"""Benchmarks: each `bench_*.py` module's `run()` returns rows of figures; `python -m bench` runs them all."""
