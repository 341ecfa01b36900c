"""Settings of the API server, read from arguments or ``SYBIL_*`` environment variables."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_keys_file() -> Path:
    """``$XDG_CONFIG_HOME/sybil-linker/api-keys.json`` (``~/.config`` when unset)."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "sybil-linker" / "api-keys.json"


class ApiSettings(BaseSettings):
    """Where the API reads runs and keys from, and how it serves them.

    There is no default secret: keys live hashed in ``keys_file`` and the server refuses
    to start without one unless ``insecure_no_auth`` is set.
    """

    model_config = SettingsConfigDict(env_prefix="SYBIL_", frozen=True, extra="ignore")

    results_dir: Path = Field(
        description="Results directory of `sybil-linker link --out`; also holds labels.jsonl."
    )
    store_uri: str | None = Field(
        default=None,
        description="Store to read runs from: 'embedded', file:///path or a Neo4j URI "
        "(graph_store.open_store); unset means the embedded store in results_dir.",
    )
    keys_file: Path = Field(
        default_factory=default_keys_file, description="JSON file of hashed API keys."
    )
    insecure_no_auth: bool = Field(
        default=False, description="Development only: serve every route without a key."
    )
    metrics_public: bool = Field(
        default=False, description="Serve /metrics without a key (e.g. to a local scraper)."
    )
    refresh_seconds: float = Field(
        default=10.0,
        ge=0,
        description="Check the store for a new run (and the keys file for changes) at most "
        "this often; 0 checks on every request.",
    )

    @property
    def labels_file(self) -> Path:
        """The append-only JSONL file of analyst labels."""
        return self.results_dir / "labels.jsonl"
