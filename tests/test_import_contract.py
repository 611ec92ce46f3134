"""The import contract of `launcher/`, read from the source of whatever modules exist.

- the core (everything but `cli.py`, `__main__.py` and `commands/`) never imports `commands/`
  or `cli`: commands call the core, never the other way round;
- `launcher/models/` never reaches (directly or through another module) settings, the console,
  the server, shell detection or venvs: it takes plain values and reports through protocols;
- no import cycles between modules at import time (imports inside functions and under
  `TYPE_CHECKING` are deliberate and do not count);
- the core prints only through `console.py` and never exits (`print`, `sys.exit`, writes to
  sys.stdout/stderr), except modules that run as their own process (`__main__` blocks);
- docs/architecture.md names every module.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "launcher"
FRONT = ("launcher.cli", "launcher.__main__", "launcher.commands")
MODELS_MAY_NOT_REACH = (
    "launcher.settings",
    "launcher.ui",
    "launcher.up",
    "launcher.server",
    "launcher.shells",
    "launcher.venvs",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def is_under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        test = node.test if isinstance(node, ast.If) else None
        if test is not None and "TYPE_CHECKING" in ast.unparse(test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".")
    is_package = MODULES[module].name == "__init__.py"
    base = package if is_package else package[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports(module: str, *, top_level_only: bool) -> Iterator[str]:
    """The launcher modules `module` imports (submodules named in `from x import y` included)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    hidden = _type_checking_lines(tree)
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if getattr(node, "lineno", 0) in hidden:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            # `from pkg import sub` imports the submodule; `from pkg import name`, the package
            subs = [f"{target}.{alias.name}" for alias in node.names]
            names = [s for s in subs if s in MODULES]
            if len(names) < len(subs):
                names.append(target)
        else:
            continue
        yield from (name for name in names if name in MODULES)


@functools.cache
def graph(*, top_level_only: bool) -> dict[str, set[str]]:
    return {m: set(imports(m, top_level_only=top_level_only)) - {m} for m in MODULES}


def reachable(start: str, edges: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in edges[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_the_contract_sees_the_package() -> None:
    # a test that silently checked nothing would pass forever
    assert "launcher.cli" in MODULES and "launcher.settings" in MODULES
    assert any(is_under(m, "launcher.models") for m in MODULES)
    assert sum(len(v) for v in graph(top_level_only=False).values()) > 50


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.startswith(FRONT)))
def test_the_core_never_imports_commands_or_cli(module: str) -> None:
    bad = [i for i in imports(module, top_level_only=False) if i.startswith(FRONT)]
    assert not bad, f"{module} imports {bad}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if is_under(m, "launcher.models")))
def test_models_never_reach_settings_console_server_shells_or_venvs(module: str) -> None:
    edges = graph(top_level_only=False)
    reached = reachable(module, edges)
    bad = sorted(r for r in reached if any(is_under(r, p) for p in MODELS_MAY_NOT_REACH))
    assert not bad, f"{module} reaches {bad}"


def test_no_import_cycles() -> None:
    edges = graph(top_level_only=True)
    cycles = []
    for module in MODULES:
        if module in reachable(module, edges):
            cycles.append(module)
    assert not cycles, f"modules on an import cycle: {cycles}"


def test_no_two_modules_share_a_file_name() -> None:
    """A file name says one thing: `status.py` is not a command in one folder and the status
    file in another."""
    seen: dict[str, list[str]] = {}
    for name, path in MODULES.items():
        if path.name not in ("__init__.py", "__main__.py"):
            seen.setdefault(path.name, []).append(name)
    assert {k: v for k, v in seen.items() if len(v) > 1} == {}


def test_the_architecture_document_names_every_module() -> None:
    text = (ROOT.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = []
    for path in MODULES.values():
        relative = path.relative_to(ROOT).as_posix()
        if f"`{relative}`" not in text:
            missing.append(relative)
    assert not missing, f"docs/architecture.md does not describe: {missing}"


def _is_script(tree: ast.Module) -> bool:
    """A module with `if __name__ == "__main__":` runs as its own process (a child the
    launcher starts, such as the watchdog or the source scanner): it owns its stdout."""
    return any(
        isinstance(node, ast.If) and "__main__" in ast.unparse(node.test) for node in tree.body
    )


def _writes_or_exits(tree: ast.Module) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        if name in {"print", "sys.exit", "exit", "sys.stdout.write", "sys.stderr.write"}:
            found.append(f"{name} (line {node.lineno})")
    return found


@pytest.mark.parametrize(
    "module", sorted(m for m in MODULES if not m.startswith(FRONT) and m != "launcher.ui.console")
)
def test_the_core_prints_only_through_the_console_and_never_exits(module: str) -> None:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    if _is_script(tree):
        return
    found = _writes_or_exits(tree)
    assert not found, f"{module} writes or exits itself: {found}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_is_small_and_says_its_one_job(module: str) -> None:
    text = MODULES[module].read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 400, f"{module} is over 400 lines: split it by concern"
    docstring = ast.get_docstring(ast.parse(text)) or ""
    assert docstring.strip(), f"{module} has no docstring saying its one job"
