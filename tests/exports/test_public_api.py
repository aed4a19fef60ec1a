"""The public modules' exports are pinned: sorted ``__all__`` lists of names that exist, no
direct dependency on a particular store, and no import of ``temporalio``."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import stalwart

PUBLIC_MODULES = [
    "stalwart.activity",
    "stalwart.api.common.v1",
    "stalwart.api.enums.v1",
    "stalwart.api.history.v1",
    "stalwart.client",
    "stalwart.common",
    "stalwart.converter",
    "stalwart.envconfig",
    "stalwart.exceptions",
    "stalwart.openai_agents",
    "stalwart.saga",
    "stalwart.service",
    "stalwart.testing",
    "stalwart.worker",
    "stalwart.worker.workflow_sandbox",
    "stalwart.workflow",
]

SOURCE_ROOT = Path(stalwart.__file__).parent


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_public_module_all_is_sorted_and_complete(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert isinstance(exported, list), f"{name} has no __all__ list"
    assert exported == sorted(exported), f"{name}.__all__ is not sorted"
    assert len(set(exported)) == len(exported), f"{name}.__all__ lists a name twice"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it does not define: {missing}"


def _imported_modules(path: Path, package: str) -> set[str]:
    """Every module an import statement in ``path`` names, at any depth, made absolute."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_public_module_does_not_import_the_sqlite_store(name: str) -> None:
    module = SOURCE_ROOT.joinpath(*name.split(".")[1:])
    path = module / "__init__.py" if module.is_dir() else module.with_suffix(".py")
    imported = _imported_modules(path, "stalwart")
    direct = sorted(m for m in imported if m.startswith("stalwart._store.sqlite"))
    assert not direct, f"{name} imports the SQLite store directly: {direct}"


def test_public_modules_import_neither_temporalio_nor_a_store_backend() -> None:
    # A fresh interpreter: this test process may have imported anything already.
    code = (
        "import importlib, json, sys\n"
        f"for name in {['stalwart', *PUBLIC_MODULES]!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    loaded = json.loads(done.stdout)
    assert "stalwart.workflow" in loaded
    assert [m for m in loaded if m == "temporalio" or m.startswith("temporalio.")] == []
    assert [m for m in loaded if m.startswith("stalwart._store.sqlite")] == []


def test_each_public_module_imports_first_in_a_fresh_interpreter() -> None:
    """``from stalwart.worker import Worker`` as a program's first import must work: a cycle
    between private modules shows only when one of them is imported before the others."""
    code = (
        "import subprocess, sys\n"
        f"for name in {PUBLIC_MODULES!r}:\n"
        "    done = subprocess.run([sys.executable, '-c', f'import {name}'],\n"
        "                          capture_output=True, text=True)\n"
        "    if done.returncode:\n"
        "        print(name, done.stderr.strip().splitlines()[-1])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120)
    assert done.stdout == "", done.stdout
