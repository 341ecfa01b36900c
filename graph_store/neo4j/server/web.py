"""The Browser the server serves: Neo4j Browser with the project's guide and style.

Neo4j 5.26 serves the Browser from its classpath jar at ``/browser/``, unless the
home's ``web/`` folder holds a Browser archive named ``neo4j-browser.zip`` (Neo4j's
``internal.dbms.browser_artefact_pattern``): then it unpacks that archive into a
temporary folder at start and serves it instead. :func:`prepare_web` writes such an
archive: every file of the installed ``neo4j-browser`` jar, unchanged, plus the
project's assets (``graph_store/neo4j/browser/``: the guide and the style file) under
``/browser/sybil-linker/``. So the guide and the style come from the server's own HTTP
port, on the Browser's own origin, and nothing else needs to run or be reached.

The archive is rebuilt only when the jar or an asset changed (a fingerprint is kept
in the archive's comment). ``neo4j.conf`` (:func:`config.render_conf`) makes the
Browser load both on connect (``browser.post_connect_cmd``).
"""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from importlib import resources
from pathlib import Path

from graph_store.neo4j.server.common import Neo4jServerError

#: package holding the assets served under /browser/<ASSET_DIR>/
ASSET_PACKAGE = "graph_store.neo4j.browser"
ASSET_DIR = "sybil-linker"
#: the files of ASSET_PACKAGE that are served (the package's Python files are not)
ASSET_SUFFIXES = (".html", ".grass", ".md", ".png", ".svg")
#: matches Neo4j's default internal.dbms.browser_artefact_pattern (neo4j-browser*.zip)
ARCHIVE_NAME = "neo4j-browser.zip"
#: prefix of the folders Neo4j unpacks the archive into (in java.io.tmpdir)
UNPACKED_PREFIX = "decompressed-browser"
GUIDE = "guide.html"
STYLE = "style.grass"


def web_dir(home: Path) -> Path:
    """``<home>/web``: where Neo4j looks for a Browser archive (its default
    ``internal.dbms.web_dir_path``, relative to the home)."""
    return home / "web"


def tmp_dir(home: Path) -> Path:
    """``<home>/tmp``: the server's ``java.io.tmpdir`` (the unpacked Browser lives
    there while the server runs)."""
    return home / "tmp"


def asset_url(http_url: str, name: str) -> str:
    """The URL at which the server at ``http_url`` serves the asset ``name``."""
    return f"{http_url}/browser/{ASSET_DIR}/{name}"


def assets() -> dict[str, bytes]:
    """File name -> content of every served asset."""
    root = resources.files(ASSET_PACKAGE)
    return {
        item.name: item.read_bytes()
        for item in sorted(root.iterdir(), key=lambda i: i.name)
        if item.is_file() and item.name.endswith(ASSET_SUFFIXES)
    }


def browser_jar(home: Path) -> Path:
    """The installed ``neo4j-browser`` jar of ``home``.

    Raises Neo4jServerError when there is none (the home is not installed)."""
    jars = sorted((home / "lib").glob("neo4j-browser-*.jar"))
    if not jars:
        raise Neo4jServerError(f"no neo4j-browser jar in {home / 'lib'}: install first")
    return jars[-1]


def _fingerprint(jar: Path, files: dict[str, bytes]) -> bytes:
    digest = hashlib.sha256()
    stat = jar.stat()
    digest.update(f"{jar.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    for name, content in files.items():
        digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    return f"sybil-linker browser {digest.hexdigest()}".encode()


def _write_archive(jar: Path, files: dict[str, bytes], target: Path, comment: bytes) -> None:
    """The jar's ``browser/`` tree plus ``files`` in ``browser/ASSET_DIR/``. Neo4j
    unpacks it entry by entry, creating each folder from its own entry and serving
    the first entry's folder, so ``browser/`` comes first and every folder has an
    entry before its files."""
    partial = target.with_suffix(".partial")
    with (
        zipfile.ZipFile(jar) as src,
        zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst,
    ):
        entries = [i for i in src.infolist() if i.filename.startswith("browser/")]
        if not entries or entries[0].filename != "browser/":
            raise Neo4jServerError(f"{jar} does not start with a browser/ folder")
        for info in entries:
            dst.writestr(info, b"" if info.is_dir() else src.read(info))
        dst.writestr(zipfile.ZipInfo(f"browser/{ASSET_DIR}/"), b"")
        for name, content in files.items():
            dst.writestr(f"browser/{ASSET_DIR}/{name}", content)
        dst.comment = comment
    partial.replace(target)


def prepare_web(home: Path) -> Path:
    """Write ``<home>/web/neo4j-browser.zip`` unless it is up to date, and empty the
    server's temporary folder of Browsers unpacked by earlier (killed) servers. Call
    only while the server of ``home`` is stopped. Returns the archive's path.

    Raises Neo4jServerError when the home has no Browser jar."""
    jar = browser_jar(home)
    files = assets()
    archive = web_dir(home) / ARCHIVE_NAME
    comment = _fingerprint(jar, files)
    current = b""
    if archive.is_file():
        try:
            with zipfile.ZipFile(archive) as existing:
                current = existing.comment
        except zipfile.BadZipFile:
            current = b""
    if current != comment:
        archive.parent.mkdir(parents=True, exist_ok=True)
        _write_archive(jar, files, archive, comment)
    tmp = tmp_dir(home)
    tmp.mkdir(parents=True, exist_ok=True)
    for stale in tmp.glob(f"{UNPACKED_PREFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)
    return archive
