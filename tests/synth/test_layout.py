"""The generator is its own package: its text pools are data files, and the linker
does not import it (only the CLI's ``generate``/``demo`` commands do, when run)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.resources import files

import pytest

from synth.resources import load

pytestmark = pytest.mark.xdist_group("synth")

DATA = files("synth") / "data"


def test_data_files_load_in_order() -> None:
    names = sorted(p.name for p in DATA.iterdir() if p.name.endswith(".json"))
    assert names, "no data files under synth/data"
    for name in names:
        raw = json.loads((DATA / name).read_text(encoding="utf-8"))
        data = load(name.removesuffix(".json"))
        assert "_doc" not in data
        assert list(data) == [k for k in raw if k != "_doc"], name
        assert all(v for v in data.values()), f"{name}: an empty pool"


def test_linker_does_not_import_synth() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        "import linker\n"
        "for m in pkgutil.walk_packages(linker.__path__, 'linker.'):\n"
        "    if m.name.endswith('.__main__'):\n"
        "        continue  # runs the CLI\n"
        "    try:\n"
        "        importlib.import_module(m.name)\n"
        "    except ImportError:\n"
        "        pass  # an optional extra that is not installed\n"
        "leaked = sorted(n for n in sys.modules if n == 'synth' or n.startswith('synth.'))\n"
        "print(' '.join(leaked))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert done.stdout.strip() == "", f"linker imports the generator: {done.stdout}"
