"""API keys: create, list and revoke keys in a JSON keys file, hashed, never stored clear.

A key looks like ``sl_<key id>_<secret>``: the key id (12 hex digits) finds the record,
and the sha256 of the whole key is compared in constant time. The secret has 256 bits of
entropy, so a plain sha256 (no slow KDF) is enough. The file is written atomically with
mode 0600, under an exclusive lock so that two ``keys create`` never lose a key.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.errors import ApiConfigError

#: what a key may do; routes name the scope they need
SCOPES = ("risk:read", "identifiers:read", "labels:write")
KEY_PREFIX = "sl"
FILE_VERSION = 1


@dataclass(frozen=True)
class ApiKey:
    """One key's record in the keys file (the hash, never the key)."""

    key_id: str
    name: str
    scopes: tuple[str, ...]
    key_sha256: str
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        """True until the key is revoked."""
        return self.revoked_at is None

    def to_json(self) -> dict[str, Any]:
        """Plain-data form for the keys file."""
        return {**asdict(self), "scopes": list(self.scopes)}


def hash_key(key: str) -> str:
    """The sha256 hex digest stored for ``key``."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_id_of(key: str) -> str | None:
    """The key id inside a presented key, or None if it is not shaped like one of ours."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _record(raw: dict[str, Any], path: Path) -> ApiKey:
    try:
        return ApiKey(
            key_id=str(raw["key_id"]),
            name=str(raw["name"]),
            scopes=tuple(str(s) for s in raw["scopes"]),
            key_sha256=str(raw["key_sha256"]),
            created_at=str(raw["created_at"]),
            revoked_at=raw.get("revoked_at"),
        )
    except (KeyError, TypeError) as err:
        raise ApiConfigError(f"keys file {path}: malformed key record ({err})") from err


def load_keys(path: Path) -> list[ApiKey]:
    """Every key in the keys file ([] when the file does not exist).

    Raises ApiConfigError when the file is not a keys file.
    """
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text())
        raw_keys = data["keys"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ApiConfigError(f"keys file {path} is unreadable or malformed: {err}") from err
    return [_record(raw, path) for raw in raw_keys]


def _write_keys(path: Path, keys: list[ApiKey]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"version": FILE_VERSION, "keys": [k.to_json() for k in keys]}, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def check_scopes(scopes: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The scopes, deduplicated in order; raises ApiConfigError for none or an unknown one."""
    if not scopes:
        raise ApiConfigError(f"give at least one scope: {', '.join(SCOPES)}")
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ApiConfigError(f"unknown scope {unknown[0]!r}; scopes are {', '.join(SCOPES)}")
    return tuple(dict.fromkeys(scopes))


def create_key(path: Path, name: str, scopes: list[str] | tuple[str, ...]) -> tuple[ApiKey, str]:
    """Add a key to the keys file; returns its record and the key itself (shown once).

    Raises ApiConfigError for an empty name or an unknown scope.
    """
    if not name.strip():
        raise ApiConfigError("a key needs a non-empty --name")
    checked = check_scopes(scopes)
    with _locked(path):
        keys = load_keys(path)
        taken = {k.key_id for k in keys}
        key_id = secrets.token_hex(6)
        while key_id in taken:
            key_id = secrets.token_hex(6)
        key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        record = ApiKey(key_id, name.strip(), checked, hash_key(key), _now())
        _write_keys(path, [*keys, record])
    return record, key


def list_keys(path: Path) -> list[ApiKey]:
    """Every key in the file, active and revoked, oldest first."""
    return load_keys(path)


def revoke_key(path: Path, key_id: str) -> ApiKey:
    """Mark a key revoked (the record stays, for audit); returns the updated record.

    Raises ApiConfigError when there is no key with that id.
    """
    with _locked(path):
        keys = load_keys(path)
        match = [k for k in keys if k.key_id == key_id]
        if not match:
            raise ApiConfigError(f"no key with id {key_id!r} in {path}")
        revoked = match[0] if not match[0].active else replace(match[0], revoked_at=_now())
        _write_keys(path, [revoked if k.key_id == key_id else k for k in keys])
    return revoked
