"""Benchmarks that report figures measured in one run (never timed tests)."""
