"""Synthetic worlds with ground truth for the Sybil linker.

>>> from synth import generate_world, write_world
>>> world = generate_world(20_000, seed=1)
>>> paths = write_world(world, Path("out"), fmt="parquet")

See ``docs/synthetic-world.md`` for what the world contains and why.

The generator is a top-level package of its own: the linker never imports it (only the
CLI's ``generate`` and ``demo`` commands do, inside the command). Its text pools are
data files (``synth/data/*.json``).
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
