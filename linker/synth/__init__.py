"""Synthetic worlds with ground truth for the Sybil linker.

>>> from linker.synth import generate_world, write_world
>>> world = generate_world(20_000, seed=1)
>>> paths = write_world(world, Path("out"), fmt="parquet")

See ``docs/synthetic-world.md`` for what the world contains and why.
"""

from .world import BENIGN_GROUPS, TABLE_NAMES, TIERS, World, generate_world, read_world, write_world

__all__ = [
    "BENIGN_GROUPS",
    "TABLE_NAMES",
    "TIERS",
    "World",
    "generate_world",
    "read_world",
    "write_world",
]
