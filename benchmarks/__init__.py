"""Benchmarks: run as modules, e.g. `python -m benchmarks.bench_search --n 100000`."""
