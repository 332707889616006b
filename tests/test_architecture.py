"""The layout is the architecture (issue 20): wings by capability, walls a linter keeps.

The walls are import-linter contracts in pyproject.toml; these tests run them on the
tree as it installs, and hold the rules a linter cannot see: every wing says what it owns,
and no module grows past ~600 lines without saying why.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [p for folder in ("core", "web", "plugins") for p in (ROOT / folder).rglob("*.py")]
LONG = 600
"""Lines a module may have before its docstring must say why it is longer."""


def docstring(path: Path) -> str:
    return ast.get_docstring(ast.parse(path.read_text("utf-8"))) or ""


def test_the_import_walls_between_wings_hold():
    done = subprocess.run(
        [str(ROOT / ".ci" / "lint-imports")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_every_package_says_what_it_owns():
    silent = [
        str(init.relative_to(ROOT))
        for init in (ROOT / "core").rglob("__init__.py")
        if "migrations" not in init.parts and len(docstring(init).split()) < 12
    ]
    assert silent == []


def test_every_module_has_a_docstring():
    assert [str(p.relative_to(ROOT)) for p in SOURCES if not docstring(p).strip()] == []


def test_no_module_is_long_without_a_reason():
    long = [
        f"{p.relative_to(ROOT)} ({n} lines)"
        for p in SOURCES
        if (n := len(p.read_text("utf-8").splitlines())) > LONG + LONG // 20
        and "longer than a module should be" not in docstring(p).lower()
    ]
    assert long == []
