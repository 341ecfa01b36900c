"""Sybil Linker: find coordinated clusters of Sybil accounts from shared signals."""

__version__ = "0.1.0"
