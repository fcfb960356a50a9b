"""gradscope's benchmarks: what tracing costs next to the plain run, and next to peer tools.

`python -m bench` (or `make bench`) runs each workload in `bench/workloads/` plainly and under
`gradscope trace` in the same invocation, alternating, and prints the medians and their ratio.
"""
