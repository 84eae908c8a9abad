"""Simulators of clash panels for tests and benchmarks (not part of the `model` package)."""
