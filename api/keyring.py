"""API keys held by a running server: the keys file's active keys, reloaded when the
file changes, and the principal a presented key stands for."""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from api.errors import ApiConfigError, ApiError
from api.keys import SCOPES, ApiKey, hash_key, key_id_of, load_keys

log = logging.getLogger("sybil_linker.api")

API_KEY_HEADER = "X-API-Key"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key id, its name and its scopes."""

    key_id: str
    name: str
    scopes: frozenset[str]

    def has(self, scope: str) -> bool:
        """True when the key carries ``scope``."""
        return scope in self.scopes


#: the caller of every request when the server runs with --insecure-no-auth
INSECURE_PRINCIPAL = Principal("insecure-no-auth", "insecure-no-auth", frozenset(SCOPES))


class KeyRing:
    """The active keys of a keys file, reloaded when the file changes."""

    def __init__(
        self, path: Path, refresh_seconds: float, clock: Callable[[], float] = time.monotonic
    ):
        self.path = path
        self._refresh = refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._next_check = 0.0
        self._keys: dict[str, ApiKey] = {}
        self.reload()

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def reload(self) -> None:
        """Read the keys file now. Raises ApiConfigError for a malformed file."""
        with self._lock:
            stamp = self._file_stamp()
            keys = load_keys(self.path)
            self._keys = {k.key_id: k for k in keys if k.active}
            self._stamp = stamp
            self._next_check = self._clock() + self._refresh

    def _maybe_reload(self) -> None:
        if self._clock() < self._next_check:
            return
        self._next_check = self._clock() + self._refresh
        if self._file_stamp() == self._stamp:
            return
        try:
            self.reload()
        except ApiConfigError as err:  # written atomically, so only a hand edit gets here
            log.error("keeping the previous API keys: %s", err)

    @property
    def active_count(self) -> int:
        """How many unrevoked keys the file holds."""
        return len(self._keys)

    def authenticate(self, presented: str | None) -> Principal:
        """The principal of a presented key; raises ApiError 401 for none or a bad one."""
        if not presented:
            raise ApiError(401, "unauthorized", f"missing API key: send it in {API_KEY_HEADER}")
        self._maybe_reload()
        key_id = key_id_of(presented)
        record = self._keys.get(key_id) if key_id else None
        # compare even when the id is unknown, so timing says nothing about which ids exist
        expected = record.key_sha256 if record else "0" * 64
        if not hmac.compare_digest(hash_key(presented), expected) or record is None:
            raise ApiError(401, "unauthorized", "invalid or revoked API key")
        return Principal(record.key_id, record.name, frozenset(record.scopes))
