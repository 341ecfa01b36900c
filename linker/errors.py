"""The project's exceptions. Every error a user can cause is a ``LinkerError``."""

from __future__ import annotations


class LinkerError(Exception):
    """Base class of every error Sybil Linker raises on purpose."""


class InputError(LinkerError):
    """An input file cannot be used: missing, unreadable, a required column absent,
    or every row invalid. The message names the file (and column when it applies)."""

    def __init__(self, message: str, *, file: str | None = None, column: str | None = None):
        self.file = file
        self.column = column
        where = ", ".join(
            part
            for part in (f"file {file}" if file else "", f"column {column!r}" if column else "")
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)


class StoreError(LinkerError):
    """A graph store could not be read or written."""


class SemanticError(LinkerError):
    """The semantic stage cannot run: its optional extra is missing, the bundled model
    cannot be loaded, or an input is outside its limits."""
