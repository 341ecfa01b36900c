"""A first load of millions: the input graph written as CSV files and imported with
``neo4j-admin database import full`` while the server is stopped.

The files hold the rows the batch load (``Neo4jStore.load_input``) sends, from the same
functions of ``rows.py``, typed as the driver would send them: the graph that comes out
is the one a batch load of the same input into an empty database makes (accounts,
identifiers with their ``kind``, ``prefix`` or ``example``, memberships with their
counts, times and IP windows, IP ranges; the nodes tagged ``first_load``). What the
importer cannot do is then done through Cypher once the server is up again: the
constraints and indexes of ``schema.py`` and the Browser captions (the load's own
caption clauses).

The importer replaces a database. :func:`bulk_import` refuses a database that holds any
node unless ``overwrite`` is given. If the import fails, the server is started again
and the database may be incomplete: import again with ``overwrite``, or load the input
with ``load_input`` (which MERGEs onto whatever is there).
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from graph_store.base import InputTables
from graph_store.neo4j import server
from graph_store.neo4j.queries import GENERIC, label_of
from graph_store.neo4j.rows import (
    LoadStats,
    Neo4jStoreError,
    account_rows,
    column,
    membership_rows,
    prefixes,
)
from graph_store.neo4j.server.admin import ARRAY_DELIMITER, import_database
from graph_store.neo4j.server.config import configured_ports, configured_start
from graph_store.neo4j.store import Neo4jStore

#: Arrow type -> the importer's header type (strings need none)
HEADER_TYPES = {pa.int64(): "long", pa.float64(): "double", pa.bool_(): "boolean"}
#: the key of a node of the shared Identifier label: kind and value (the unit separator
#: cannot be part of a kind name)
KEY_SEP = "\x1f"


@dataclass
class ImportFiles:
    """The CSV files of one input graph and what they hold."""

    nodes: list[tuple[str, Path]] = field(default_factory=list)
    relationships: list[tuple[str, Path]] = field(default_factory=list)
    #: accounts, identifiers, memberships, ip_ranges
    rows: dict[str, int] = field(default_factory=dict)
    #: some text has a line break (the importer then reads quoted fields across lines)
    multiline: bool = False

    def add(self, kind: str, rows: int) -> None:
        self.rows[kind] = self.rows.get(kind, 0) + rows


def _header(name: str, array: pa.Array) -> str:
    if pa.types.is_list(array.type):
        return f"{name}:long[]"
    suffix = HEADER_TYPES.get(array.type)
    return f"{name}:{suffix}" if suffix else name


def _write(
    files: ImportFiles, path: Path, columns: dict[str, pa.Array], typed: dict[str, str]
) -> Path:
    """One CSV with a header line: ``typed`` names (ids) as given, the other columns
    typed from their values; a column that is null everywhere is left out (a property
    set to null is no property)."""
    names, arrays = [], []
    for name, array in columns.items():
        if name not in typed and array.null_count == len(array) and len(array):
            continue
        if pa.types.is_list(array.type):  # long[] cells: "1;2;3"
            array = pc.binary_join(pc.cast(array, pa.list_(pa.string())), ARRAY_DELIMITER)
        elif pa.types.is_string(array.type) and not files.multiline:
            files.multiline = bool(pc.any(pc.match_substring_regex(array, r"[\r\n]")).as_py())
        names.append(typed.get(name) or _header(name, columns[name]))
        arrays.append(array)
    pa_csv.write_csv(pa.table(arrays, names=names), path)
    return path


def _values(series: pd.Series) -> pa.Array:
    """A column as the driver would send it (``rows.column``), as an Arrow array."""
    return pa.array(column(series), from_pandas=True)


def write_import_files(inp: InputTables, folder: Path, tag: int) -> ImportFiles:
    """Write the input graph of ``inp`` as the importer's CSV files into ``folder``;
    nodes carry ``first_load = tag``. Memberships of accounts that are not in
    ``inp.accounts`` are left out, as the batch load leaves them out."""
    files = ImportFiles()
    accounts = inp.accounts.drop_duplicates("account_id", keep="last")
    acc = account_rows(dataclasses.replace(inp, accounts=accounts))
    columns = {c: _values(acc[c]) for c in acc.columns}
    columns["first_load"] = pa.array([tag] * len(acc), pa.int64())
    path = _write(files, folder / "accounts.csv", columns, {"account_id": "account_id:ID(Account)"})
    files.nodes.append(("Account", path))
    files.add("accounts", len(acc))
    if inp.ip_info is not None and not inp.ip_info.empty:
        ranges = inp.ip_info.drop_duplicates("ip", keep="last")
        cols = {"cidr": _values(ranges["ip"]), "asn": _values(ranges["asn"])}
        cols["category"] = _values(ranges["category"])
        path = _write(files, folder / "ip_ranges.csv", cols, {"cidr": "cidr:ID(IPRange)"})
        files.nodes.append(("IPRange", path))
        files.add("ip_ranges", len(ranges))
    known = set(accounts["account_id"])
    mem = membership_rows(inp)
    for kind, group in mem.groupby("kind", sort=True):
        _write_kind(files, folder, str(kind), group, inp, known, tag)
    return files


def _write_kind(
    files: ImportFiles,
    folder: Path,
    kind: str,
    group: pd.DataFrame,
    inp: InputTables,
    known: set[str],
    tag: int,
) -> None:
    """The identifier nodes and the memberships of one kind."""
    label, rel = label_of(kind)
    values = pd.Series(group["value"].unique(), dtype=object)
    generic = label == GENERIC[0]
    key = (kind + KEY_SEP + values) if generic else values
    cols: dict[str, pa.Array] = {"key": pa.array(key.tolist(), pa.string())}
    cols["kind"] = pa.array([kind] * len(values), pa.string())
    if generic:
        cols["value"] = pa.array(values.tolist(), pa.string())
    elif kind == "ip":
        cols["prefix"] = pa.array(prefixes(values).tolist(), pa.string())
    else:
        cols["example"] = _values(values.map(inp.template_examples))
    cols["first_load"] = pa.array([tag] * len(values), pa.int64())
    id_name = f":ID({label})" if generic else f"value:ID({label})"
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", kind)
    path = _write(files, folder / f"nodes_{len(files.nodes)}_{safe}.csv", cols, {"key": id_name})
    files.nodes.append((label, path))
    files.add("identifiers", len(values))

    rows = group[group["account_id"].isin(known).to_numpy()]
    end = (kind + KEY_SEP + rows["value"]) if generic else rows["value"]
    rels: dict[str, pa.Array] = {
        "start": pa.array(rows["account_id"].tolist(), pa.string()),
        "end": pa.array(end.tolist(), pa.string()),
        "n_obs": pa.array(rows["n_obs"].to_numpy(), pa.int64()),
        "first_seen": pa.array(rows["first_ts"].to_numpy(object), pa.int64(), from_pandas=True),
        "last_seen": pa.array(rows["last_ts"].to_numpy(object), pa.int64(), from_pandas=True),
        "strength": pa.array(rows["strength"].to_numpy(float), pa.float64()),
    }
    if kind == "ip":
        windows = rows["windows"].to_numpy(object)
        rels["windows"] = pa.array(windows, pa.list_(pa.int64()), from_pandas=True)
    typed = {"start": ":START_ID(Account)", "end": f":END_ID({label})"}
    path = _write(files, folder / f"rels_{len(files.relationships)}_{safe}.csv", rels, typed)
    files.relationships.append((rel, path))
    files.add("memberships", len(rows))


def imported_counts(output: str) -> dict[str, int]:
    """Nodes and relationships the importer says it wrote (its summary lines)."""
    found = {}
    for what in ("nodes", "relationships"):
        match = re.search(rf"(\d[\d,]*) {what}\b", output.rpartition("Imported")[2])
        if match:
            found[what] = int(match.group(1).replace(",", ""))
    return found


def _check_home(store: Neo4jStore, home: Path) -> None:
    """Refuse a store that is not the server of ``home`` (the import writes ``home``)."""
    uri = urlparse(store.config.uri)
    if (
        uri.hostname not in ("127.0.0.1", "localhost", "::1")
        or uri.port != configured_ports(home)[0]
    ):
        raise Neo4jStoreError(
            f"{store.config.uri} is not the local server of {home}: the bulk import "
            "writes that server's files"
        )


def _running(home: Path) -> None:
    if not server.status(home).running:
        server.start(home, **configured_start(home))  # type: ignore[arg-type]


def bulk_import(
    inp: InputTables,
    store: Neo4jStore,
    home: Path | None = None,
    overwrite: bool = False,
    workdir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> LoadStats:
    """Import ``inp`` into the database of ``store``, the local server of ``home``
    (default: the default home): the server is started if needed, checked, stopped,
    the database replaced by ``neo4j-admin database import full``, the server started
    again (as it was configured), the schema created and captions set. Returns the
    rows and seconds per stage (``files``, ``stop``, ``import``, ``start``,
    ``schema``); ``rows['memberships']`` counts the observations.

    Raises:
        Neo4jStoreError: the database holds nodes and ``overwrite`` is false (nothing
            is changed), ``store`` is not the server of ``home``, or the importer wrote
            other counts than the files hold.
        Neo4jServerError: the server cannot be started or stopped, or the import
            failed (the server is started again; the database may be incomplete).
    """
    say = progress or (lambda _message: None)
    home = server.default_home() if home is None else Path(home).resolve()
    _check_home(store, home)
    server.install(home)  # the importer is in the server's jars
    stats = LoadStats()
    if not overwrite:  # with overwrite, even a database that does not start is replaced
        say("checking the database")
        _running(home)
        held = store.node_count()
        if held:
            raise Neo4jStoreError(
                f"the database {store.config.database} of {store.config.uri} holds {held:,} "
                "nodes; the bulk import replaces a database: pass overwrite (`sybil-linker "
                "neo4j import --overwrite`) to replace it, or load with `sybil-linker link`"
            )
        stats.lap("check", 0)
    work = Path(tempfile.mkdtemp(prefix="bulk-import-", dir=workdir))
    try:
        say("writing the import files")
        files = write_import_files(inp, work, time.time_ns())
        stats.lap("files", files.rows.get("memberships", 0))
        say("stopping the server")
        store.close()
        server.stop(home)
        stats.lap("stop", 0)
        say("neo4j-admin database import")
        output = _import(home, files, work, store.config.database)
        stats.lap("import", files.rows.get("memberships", 0))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    say("starting the server")
    _running(home)
    stats.lap("start", 0)
    _check_counts(files, imported_counts(output))
    say("constraints, indexes and captions")
    store.ensure_schema()
    store.set_captions()
    store.mark_input(inp, "neo4j-admin database import")  # `link` need not load it again
    stats.lap("schema", 0)
    stats.rows.update(files.rows)
    return stats


def _import(home: Path, files: ImportFiles, work: Path, database: str) -> str:
    """Run the importer; on failure start the server again before raising."""
    try:
        return import_database(
            home,
            files.nodes,
            files.relationships,
            work / "import.report",
            database,
            files.multiline,
        )
    except BaseException as err:
        # interrupted (Ctrl-C) or failed: the server is started again either way, and
        # the import's error is the one to report
        with contextlib.suppress(server.Neo4jServerError):
            _running(home)
        if not isinstance(err, server.Neo4jServerError):
            raise
        first, _, rest = str(err).partition("\n")
        raise server.Neo4jServerError(
            f"{first}; the database {database} is incomplete: import again with overwrite, "
            f"or load it in batches with `sybil-linker link`\n{rest}"
        ) from err


def _check_counts(files: ImportFiles, imported: dict[str, Any]) -> None:
    nodes = sum(files.rows.get(k, 0) for k in ("accounts", "identifiers", "ip_ranges"))
    wanted = {"nodes": nodes, "relationships": files.rows.get("memberships", 0)}
    if imported and imported != wanted:
        raise Neo4jStoreError(
            f"neo4j-admin imported {imported} but the files hold {wanted}; import again "
            "with overwrite"
        )
