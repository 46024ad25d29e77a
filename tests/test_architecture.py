"""Enforces the import direction of DESIGN.md §2 by reading every module's imports.

cli -> {operator, portal, pixel} -> {admin, store} -> core;  sdk -> core
services use sdk only to call another service; services never import each other;
nothing imports cli; only cli and each create_app read the environment.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "uid2"
STDLIB = frozenset(sys.stdlib_module_names)

# layer -> uid2 layers it may import
ALLOWED_LAYERS: dict[str, frozenset[str]] = {
    "core": frozenset({"core"}),
    "sdk": frozenset({"core", "sdk", "_version"}),
    "store": frozenset({"core", "store"}),
    "admin": frozenset({"core", "store", "admin"}),
    "operator": frozenset({"core", "store", "admin", "sdk", "operator"}),
    "portal": frozenset({"core", "store", "admin", "sdk", "portal", "_version"}),
    "pixel": frozenset({"core", "store", "admin", "sdk", "pixel"}),
    "walkthrough": frozenset({"core", "sdk"}),
    "__init__": frozenset({"core", "sdk", "_version"}),
    "_version": frozenset(),
    "cli": frozenset(
        {"cli", "core", "sdk", "store", "admin", "operator", "portal", "pixel", "walkthrough"}
    ),
}
# third-party top-level packages each layer may use (besides the stdlib)
ALLOWED_THIRD_PARTY: dict[str, frozenset[str]] = {
    "core": frozenset({"cryptography"}),
    "sdk": frozenset({"cryptography", "httpx"}),
    "__init__": frozenset(),
    "walkthrough": frozenset(),
}
# the pure core never reads the clock, randomness or the environment
CORE_FORBIDDEN_MODULES = frozenset({"os", "random", "secrets", "time", "socket", "subprocess"})
CORE_FORBIDDEN_CALLS = frozenset({"now", "utcnow", "today", "urandom", "time", "time_ns"})
ENV_READERS = ("app.py", "settings.py")  # plus the whole cli package


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        layer = rel.parts[0].removesuffix(".py")
        yield layer, path


def _imports(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    parts = path.relative_to(SRC).parent.parts if path.is_relative_to(SRC) else ()
    package = ".".join(("uid2", *parts))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                yield ".".join([*base, node.module] if node.module else base)
            elif node.module:
                yield node.module


def _target_layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "uid2":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


MODULES = list(_modules())
MODULE_IDS = [str(p.relative_to(SRC)) for _, p in MODULES]


@pytest.mark.parametrize(("layer", "path"), MODULES, ids=MODULE_IDS)
def test_module_imports_follow_the_layering(layer: str, path: Path) -> None:
    allowed = ALLOWED_LAYERS.get(layer)
    assert allowed is not None, f"{path}: unknown layer {layer!r}; add it to DESIGN.md"
    for module in _imports(path):
        target = _target_layer(module)
        if target is not None:
            assert target in allowed, f"{path} imports {module} ({layer} -> {target} is forbidden)"
            continue
        top = module.split(".")[0]
        third_party = ALLOWED_THIRD_PARTY.get(layer)
        if third_party is not None and top not in STDLIB:
            assert top in third_party, f"{path} imports third-party {module} ({layer} may not)"
        if layer == "core":
            assert top not in CORE_FORBIDDEN_MODULES, f"{path} imports {module}; core is pure"


@pytest.mark.parametrize(
    "path", [p for layer, p in MODULES if layer == "core"], ids=lambda p: p.name
)
def test_core_never_reads_clock_or_randomness(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr not in CORE_FORBIDDEN_CALLS, (
                f"{path}:{node.lineno} calls .{node.func.attr}(); pass time/randomness in"
            )


@pytest.mark.parametrize(("layer", "path"), MODULES, ids=MODULE_IDS)
def test_only_composition_roots_read_the_environment(layer: str, path: Path) -> None:
    if layer == "cli" or path.name in ENV_READERS:
        return
    for node in ast.walk(ast.parse(path.read_text())):
        reads = (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and node.attr in {"environ", "environb", "getenv", "putenv"}
        ) or (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(a.name in {"environ", "getenv"} for a in node.names)
        )
        assert not reads, f"{path}:{node.lineno} reads the environment; only cli/create_app may"  # type: ignore[attr-defined]


def test_the_checker_sees_a_forbidden_edge(tmp_path: Path) -> None:
    # guards against a checker that silently passes everything
    bad = tmp_path / "bad.py"
    bad.write_text("from uid2.cli import main\nimport httpx\n")
    assert "uid2.cli" in list(_imports(bad)) and _target_layer("uid2.cli") == "cli"
    assert "cli" not in ALLOWED_LAYERS["core"]
