"""``python -m linker``: the linker's own commands (generate, validate, link, demo, neo4j).

The API's ``serve`` and ``keys`` are added by the ``sybil-linker`` entry point
(:func:`api.cli.main`), the composition root: the linker never imports the API.
"""

from linker.cli import app

app()
