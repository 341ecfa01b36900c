"""Session-wide test hooks."""

from __future__ import annotations

import pytest

# The Neo4j fixtures are registered once, here, for every test directory: a second
# definition (a conftest importing them) would start a second instance in one session.
pytest_plugins = ["tests.neo4j.fixtures"]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make ``--dist loadgroup`` keep an ``xdist_group`` together under pytest >= 9.2.

    pytest-xdist (3.8) groups tests by appending ``@<group>`` to ``item._nodeid``, but
    pytest 9.2 keeps the node id in ``item._id``, so the suffix is lost and the tests
    of one group spread over the workers: the Neo4j modules then clear and load the one
    database at the same time. This re-applies the suffix the way pytest 9.2 stores
    it, for every test of the session that has the mark (tests/api uses the "neo4j"
    group too), and does nothing once xdist's own suffix is there (a fixed xdist) or
    without ``--dist loadgroup``.
    """
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        if "@" in item.nodeid:
            continue
        names = sorted(
            {
                str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                for mark in item.iter_markers("xdist_group")
            }
        )
        if not names:
            continue
        suffix = "@" + "_".join(names)
        try:
            from _pytest.nodeid import NodeId
        except ImportError:  # pytest < 9.2 stores the plain string
            item._nodeid = item.nodeid + suffix
            continue
        old = item._id
        last = old.names[-1] + ("" if old.params is None else f"[{old.params}]") + suffix
        # the suffix goes after the parameters, as in xdist's string form
        item._id = NodeId(path=old.path, names=(*old.names[:-1], last))
