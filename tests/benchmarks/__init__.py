"""Tests of the benchmark world families."""
