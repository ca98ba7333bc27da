"""Run directories, statistics and A/B comparison."""
from .rundir import RunDir, atomic_write, final_attempts, load_results, load_runs

__all__ = ["RunDir", "atomic_write", "final_attempts", "load_results", "load_runs"]
