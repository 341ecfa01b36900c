"""Assets the local Neo4j server serves with its Browser, at ``/browser/sybil-linker/``:
``guide.html`` (the investigation guide opened on connect) and ``style.grass`` (the
style applied on connect). See ``graph_store/neo4j/server/web.py`` and
docs/analyst-guide.md."""
