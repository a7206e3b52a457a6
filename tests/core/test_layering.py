"""Imports flow one way: core ← benchmarks ← declare ← ranking ← supervision ← app.

Every import of every module is read from its source (AST), also those inside functions, so a
lazy import cannot hide a back-arrow. The kernel imports no domain package; a package imports
only itself and the packages to its left; only the composition root (``app``) imports them all,
and nothing imports it. Tests and perf are outside the house.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core import ROOT

LAYERS = ("core", "benchmarks", "declare", "ranking", "supervision", "app")
RANK = {name: i for i, name in enumerate(LAYERS)}


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, at any depth."""
    name = _module_name(path)
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # ``from package import submodule`` imports the submodule too
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def back_arrows(package: str) -> list[str]:
    wrong = []
    for path in _modules(package):
        for line, module in imported_modules(path):
            top = module.split(".")[0]
            if top in RANK and RANK[top] > RANK[package]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return sorted(set(wrong))


@pytest.mark.parametrize("package", LAYERS)
def test_a_package_imports_only_the_packages_to_its_left(package):
    assert back_arrows(package) == []


def test_the_kernel_imports_no_domain_package():
    domains = set(LAYERS) - {"core"}
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _modules("core")
        for line, module in imported_modules(path)
        if module.split(".")[0] in domains
    ]
    assert wrong == []


def test_the_check_sees_imports_inside_functions_and_relative_ones(tmp_path, monkeypatch):
    pkg = tmp_path / "core"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "thing.py").write_text(
        "from . import jobs\n"
        "def f():\n"
        "    from declare.queries import home_stats\n"
        "    import supervision\n"
    )
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    assert back_arrows("core") == [
        "core/thing.py:3 imports declare.queries",
        "core/thing.py:3 imports declare.queries.home_stats",
        "core/thing.py:4 imports supervision",
    ]


def test_the_perf_modules_share_a_harness_instead_of_importing_each_other():
    run, supervision = ROOT / "perf" / "run.py", ROOT / "perf" / "supervision.py"
    assert not [m for _, m in imported_modules(run) if m.startswith("perf.supervision")]
    assert not [m for _, m in imported_modules(supervision) if m.startswith("perf.run")]
