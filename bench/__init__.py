"""Benchmarks (not timed tests): each `*_bench.py` module reports its cost as a ratio to a bare
baseline measured in the same run. `python -m bench` runs them all."""
