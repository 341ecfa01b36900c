"""The layout's rules, checked: imports flow api -> linker -> graph_store and stage by
stage (import-linter contracts in pyproject.toml), no module grows past ~500 lines, and
mypy in strict mode passes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
MYPY = Path(sys.executable).with_name("mypy")
#: what `make lint` type-checks
TYPED_PACKAGES = ("linker", "graph_store", "api", "synth")
#: modules of code allowed past the line budget (none today)
LONG_MODULES: set[str] = set()
MAX_LINES = 520


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_import_contracts_hold() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "3 kept, 0 broken" in result.stdout


def test_a_backwards_import_breaks_the_contract(tmp_path: Path) -> None:
    """The same kind of contract on a tiny tree with graph_store importing the linker."""
    for pkg, body in {
        "api": "import linker\n",
        "linker": "import graph_store\n",
        "graph_store": "import linker  # backwards\n",
    }.items():
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text(body)
    (tmp_path / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [tool.importlinter]
            root_packages = ["api", "linker", "graph_store"]

            [[tool.importlinter.contracts]]
            name = "layers"
            type = "layers"
            layers = ["api", "linker", "graph_store"]
            """
        )
    )
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert "graph_store is not allowed to import linker" in result.stdout


@pytest.mark.parametrize("package", ["linker", "graph_store", "api", "synth"])
def test_no_module_over_the_line_budget(package: str) -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / package).rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert set(long) <= LONG_MODULES, long


def test_python_m_linker_does_not_import_the_api() -> None:
    code = "import sys, runpy; sys.argv=['linker', '--help']\n" + (
        "try:\n    runpy.run_module('linker', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "bad = sorted(m for m in sys.modules if m == 'api' or m.startswith(('api.', 'fastapi')))\n"
        "print('IMPORTED', bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert "IMPORTED []" in out.stdout, out.stdout + out.stderr
    assert "link" in out.stdout


def test_mypy_strict_passes() -> None:
    """`make lint`'s mypy run: strict comes from pyproject.toml (so editors agree), and
    the per-module overrides only let untyped third-party libraries in. About 25 s from
    a cold cache on the 2-core machine, under a second warm."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert config.get("strict") is True
    modules = [o["module"] for o in config.get("overrides", [])]
    overridden = [m for ms in modules for m in ([ms] if isinstance(ms, str) else ms)]
    assert not [m for m in overridden if m.split(".")[0] in TYPED_PACKAGES], overridden
    result = subprocess.run(
        [str(MYPY), *TYPED_PACKAGES], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:]
