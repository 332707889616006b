"""The distribution installs under one import root, and its plugin contract is documented."""

from __future__ import annotations

import inspect
import subprocess
import sys
import tomllib
from pathlib import Path

import caratflow
from caratflow.jurisdiction import hookspecs

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"caratflow": "core", "caratflow.plugins": "plugins", "caratflow.web": "web"}


def test_every_package_folder_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == FOLDERS
    on_disk = set()
    for package, folder in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            on_disk.add(".".join((package, *relative)))
    assert sorted(config["packages"]) == sorted(on_disk)


def test_caratflow_is_the_core_folder():
    assert Path(caratflow.__file__).parent.name == "core"


def test_no_generic_top_level_name_is_importable_from_elsewhere(tmp_path):
    probe = (
        "import importlib.util as u; print([n for n in ('core','web','plugins') if u.find_spec(n)])"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_every_hook_is_named_for_caratflow_and_documented():
    hooks = [
        f
        for name, f in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("caratflow_")
    ]
    assert len(hooks) >= 4
    for hook in hooks:
        doc = inspect.getdoc(hook) or ""
        assert "Called" in doc or "called" in doc, f"{hook.__name__}: say when it is called"
        assert "Return" in doc, f"{hook.__name__}: say what to return"
