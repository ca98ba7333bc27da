"""Run directories: manifest, console log and results written as they arrive."""
from .rundir import RunDir, atomic_write, load_results

__all__ = ["RunDir", "atomic_write", "load_results"]
