"""``python -m graph_store.neo4j.server ...``: see :mod:`graph_store.neo4j.server.cli`."""

import sys

from graph_store.neo4j.server.cli import main

sys.exit(main())
