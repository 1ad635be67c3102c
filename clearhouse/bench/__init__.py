"""Reproducible workloads and benchmarks run by `clearhouse bench`."""

from clearhouse.bench.core_bench import run_core_bench
from clearhouse.bench.workload import Workload, generate_workload

__all__ = ["Workload", "generate_workload", "run_core_bench"]
