"""Clustering: what the communities (linker.graph.detect) become: accounts attached by a
template family their would-be cluster holds (``attach``) and stable cluster ids across
runs (``ids``)."""
