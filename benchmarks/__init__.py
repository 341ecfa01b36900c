"""Benchmarks: one command each; figures go to benchmarks/results/*.json."""
