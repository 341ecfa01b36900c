"""A local Neo4j Community server that the project installs and runs itself.

No Docker and no tarball: the server's jars come from Maven Central (resolved by
``mvn``) into a cache folder, and the server runs as a plain detached ``java``
process started with :data:`ENTRY_POINT`. Everything lives under one *home* folder::

    <home>/lib/            jars (+ .sybil-install.json marker)   -- install()
    <home>/install/pom.xml the generated pom used to resolve them
    <home>/conf/neo4j.conf rewritten on every start()
    <home>/data/           databases, transaction logs, auth (data/dbms)
    <home>/logs/           neo4j.log, debug.log, ... and neo4j.out (JVM stdout/stderr)
    <home>/run/neo4j.pid   pid of the running server; run/server.lock serialises start/stop

The default home is ``~/.cache/sybil-linker/neo4j/<version>``; the environment variable
``SYBIL_NEO4J_HOME`` overrides it.

The server is for local development and tests only: it listens on 127.0.0.1 only, and
its default password (:data:`DEFAULT_PASSWORD`, overridable with ``SYBIL_NEO4J_PASSWORD``)
is public. Usage-data reporting and Browser telemetry are switched off.

Command line (one line of output each; non-zero exit code on failure)::

    python -m graph_store.neo4j.server install|start|stop|status [options]

The package uses the standard library only. Its modules:

- :mod:`~graph_store.neo4j.server.common`: versions, constants, errors, home layout, java;
- :mod:`~graph_store.neo4j.server.install`: the jars from Maven Central;
- :mod:`~graph_store.neo4j.server.config`: neo4j.conf, JVM command line, password;
- :mod:`~graph_store.neo4j.server.probes`: Bolt handshake, HTTP discovery, auth check;
- :mod:`~graph_store.neo4j.server.process`: start, stop, status, pid and lock files;
- :mod:`~graph_store.neo4j.server.cli`: the command line.

Everything public is re-exported here, so ``from graph_store.neo4j import server``
then ``server.start()`` works as it always did.
"""

from graph_store.neo4j.server.cli import main
from graph_store.neo4j.server.common import (
    ADMIN_TOOL,
    BROWSER_VERSION,
    DEFAULT_BOLT_PORT,
    DEFAULT_HTTP_PORT,
    DEFAULT_PASSWORD,
    ENTRY_POINT,
    ENV_HOME,
    ENV_PASSWORD,
    HOST,
    MIN_JAVA,
    MIN_PASSWORD_LENGTH,
    NEO4J_VERSION,
    USER,
    Neo4jServerError,
    ServerStatus,
    default_home,
    find_java,
)
from graph_store.neo4j.server.config import JVM_FLAGS
from graph_store.neo4j.server.install import (
    ARTIFACTS,
    DEPENDENCY_PLUGIN,
    install,
    is_installed,
)
from graph_store.neo4j.server.probes import bolt_handshake
from graph_store.neo4j.server.process import start, status, stop

__all__ = [
    "ADMIN_TOOL",
    "ARTIFACTS",
    "BROWSER_VERSION",
    "DEFAULT_BOLT_PORT",
    "DEFAULT_HTTP_PORT",
    "DEFAULT_PASSWORD",
    "DEPENDENCY_PLUGIN",
    "ENTRY_POINT",
    "ENV_HOME",
    "ENV_PASSWORD",
    "HOST",
    "JVM_FLAGS",
    "MIN_JAVA",
    "MIN_PASSWORD_LENGTH",
    "NEO4J_VERSION",
    "USER",
    "Neo4jServerError",
    "ServerStatus",
    "bolt_handshake",
    "default_home",
    "find_java",
    "install",
    "is_installed",
    "main",
    "start",
    "status",
    "stop",
]
