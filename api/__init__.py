"""The cluster-risk HTTP API: ``create_app(settings, store)`` over the latest run of a store."""
