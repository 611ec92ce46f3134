"""Read one Python source file into plain facts (names, FastAPI apps, embedding calls, literals).

Standard library only and Python 3.8-compatible: the backend venv's interpreter runs this file
(`python -I scan.py FILE...`, one JSON document per file) on what ours cannot parse. Nothing of
the backend is imported or executed.
"""

from __future__ import annotations

import ast
import json
import sys
from collections.abc import Callable
from typing import Any, Dict  # noqa: UP035 (Dict: this file also runs on Python 3.8)

# Calls that load a fastembed model (class name, or method name on a client).
EMBED_CALLS = ("TextEmbedding", "Document", "set_model")
MODEL_KEYWORDS = ("model_name", "model", "embedding_model_name")
POSITIONAL_MODEL = ("TextEmbedding", "set_model")

Facts = Dict[str, Any]  # noqa: UP006 (a runtime alias; this file also runs on 3.8)


def scan_source(source: bytes | str, filename: str = "<source>") -> Facts:
    """The facts of one module; raises SyntaxError/ValueError when this Python cannot parse it.

    `names`: module-level bound names (None when a `*` import makes them unknowable);
    `fastapi`: module-level names assigned a `FastAPI(...)` call;
    `embeds`: fastembed-loading calls with their literal (or referenced) model and cache_dir;
    `literals`: string literals bound to names at module or class level, with their line.
    """
    tree = ast.parse(source, filename=filename)
    names = _Names()
    names.visit(tree.body)
    facts: Facts = {
        "names": None if names.star else sorted(names.found),
        "fastapi": _fastapi_names(tree.body),
        "embeds": [],
        "literals": [],
        "imports": {},
        "star_imports": [],
        "aliases": _aliases(tree.body),
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            call = _embed_call(node)
            if call is not None:
                facts["embeds"].append(call)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            _imports(node, facts)
    facts["literals"] = _literals(tree.body, module_level=True)
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            facts["literals"] += _literals(node.body, module_level=False, owner=node.name)
    return facts


def _imports(node: ast.Import | ast.ImportFrom, facts: Facts) -> None:
    """`import a.b as c` → c: {module a.b}; `from .m import x as y` → y: {module m, name x,
    level 1}; `from m import *` → a star import of m. The first binding of a name wins."""
    found = facts["imports"]
    if isinstance(node, ast.Import):
        for alias in node.names:
            bound = alias.asname or alias.name.split(".")[0]
            module = alias.name if alias.asname else bound
            found.setdefault(bound, {"module": module, "name": None, "level": 0})
        return
    for alias in node.names:
        entry = {"module": node.module or "", "name": alias.name, "level": node.level}
        if alias.name == "*":
            facts["star_imports"].append(entry)
        else:
            found.setdefault(alias.asname or alias.name, entry)


def _aliases(body: list[ast.stmt]) -> Dict[str, Any]:  # noqa: UP006
    """Module-level names bound to another name or attribute chain (`MODEL = config.MODEL`),
    or to a call of a name (`settings = Settings()`: the instance's class)."""
    found: Dict[str, Any] = {}  # noqa: UP006
    for node in body:
        if isinstance(node, ast.Assign):
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            targets = [node.target.id]
        else:
            continue
        value = getattr(node, "value", None)
        chain = reference_chain(value)
        instance = isinstance(value, ast.Call) and reference_chain(value.func) is not None
        if chain is None and instance:
            chain = reference_chain(value.func)  # type: ignore[union-attr]
        if chain is None or literal_text(value) is not None:
            continue
        for target in targets:
            found.setdefault(target, {"ref": chain, "line": node.lineno, "instance": instance})
    return found


def reference_chain(node: ast.expr | None) -> list[str] | None:
    """`config.MODEL` → ["config", "MODEL"]; `x` → ["x"]; anything else → None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.insert(0, node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *parts]
    return None


class _Names:
    """Collects module-level bindings, descending into if/try/with/for bodies (not defs)."""

    def __init__(self) -> None:
        self.found: set[str] = set()
        self.star = False
        self._handlers: dict[type, Callable[[Any], None]] = {
            ast.Assign: self._assign,
            ast.AnnAssign: self._single_target,
            ast.AugAssign: self._single_target,
            ast.FunctionDef: self._named,
            ast.AsyncFunctionDef: self._named,
            ast.ClassDef: self._named,
            ast.Import: self._import,
            ast.ImportFrom: self._import,
            ast.For: self._loop,
            ast.AsyncFor: self._loop,
            ast.While: self._branches,
            ast.If: self._branches,
            ast.With: self._with,
            ast.AsyncWith: self._with,
            ast.Try: self._try,
            ast.Expr: self._expr,
        }
        try_star = getattr(ast, "TryStar", None)
        if try_star is not None:
            self._handlers[try_star] = self._try

    def visit(self, body: list[ast.stmt]) -> None:
        for node in body:
            handler = self._handlers.get(type(node))
            if handler is not None:
                handler(node)
            elif type(node).__name__ == "TypeAlias":  # `type X = ...` (3.12+)
                self.target(node.name)  # type: ignore[attr-defined]

    def target(self, node: ast.expr) -> None:
        if isinstance(node, ast.Name):
            self.found.add(node.id)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for element in node.elts:
                self.target(element)
        elif isinstance(node, ast.Starred):
            self.target(node.value)

    def _assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self.target(target)

    def _single_target(self, node: Any) -> None:
        self.target(node.target)

    def _named(self, node: Any) -> None:
        self.found.add(node.name)

    def _import(self, node: Any) -> None:
        for alias in node.names:
            if alias.name == "*":
                self.star = True
            else:
                self.found.add(alias.asname or alias.name.split(".")[0])

    def _loop(self, node: Any) -> None:
        self.target(node.target)
        self._branches(node)

    def _branches(self, node: Any) -> None:
        self.visit(node.body)
        self.visit(node.orelse)

    def _with(self, node: Any) -> None:
        for item in node.items:
            if item.optional_vars is not None:
                self.target(item.optional_vars)
        self.visit(node.body)

    def _try(self, node: Any) -> None:
        self.visit(node.body)
        for handler in node.handlers:
            self.visit(handler.body)
        self.visit(node.orelse)
        self.visit(node.finalbody)

    def _expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.NamedExpr):
            self.target(node.value.target)


def _call_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _fastapi_names(body: list[ast.stmt]) -> list[str]:
    found: list[str] = []
    for node in body:
        value = getattr(node, "value", None)
        if not isinstance(node, (ast.Assign, ast.AnnAssign)) or not isinstance(value, ast.Call):
            continue
        if _call_name(value) != "FastAPI":
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        found += [t.id for t in targets if isinstance(t, ast.Name)]
    return found


def literal_text(node: ast.expr | None) -> str | None:
    """A string the expression always evaluates to: "x", Path("x"), str(Path("x")), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    wraps = isinstance(node, ast.Call) and _call_name(node) in ("Path", "PurePath", "str")
    if wraps and len(node.args) == 1 and not node.keywords:  # type: ignore[union-attr]
        return literal_text(node.args[0])  # type: ignore[union-attr]
    return None


def _reference(node: ast.expr | None) -> str | None:
    """The name an argument refers to: `x` → x, `settings.embedding_model` → embedding_model."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call) and _call_name(node) in ("Path", "str") and len(node.args) == 1:
        return _reference(node.args[0])
    return None


def _embed_call(node: ast.Call) -> Facts | None:
    name = _call_name(node)
    if name not in EMBED_CALLS:
        return None
    keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg}
    model = next((keywords[k] for k in MODEL_KEYWORDS if k in keywords), None)
    if model is None and name in POSITIONAL_MODEL and node.args:
        model = node.args[0]
    cache = keywords.get("cache_dir")
    if model is None and cache is None:
        return None
    model_text, cache_text = _default_of(model), _default_of(cache)
    return {
        "call": name,
        "line": node.lineno,
        "model": model_text,
        "model_ref": None if model_text is not None else _reference(model),
        "model_chain": None if model_text is not None else _chain(model),
        "model_env": env_name(model),
        "cache_dir": cache_text,
        "cache_ref": None if cache_text is not None else _reference(cache),
        "cache_chain": None if cache_text is not None else _chain(cache),
        "cache_env": env_name(cache),
    }


def _chain(node: ast.expr | None) -> list[str] | None:
    """The name chain an argument refers to, through `Path(...)`/`str(...)`."""
    if isinstance(node, ast.Call) and _call_name(node) in ("Path", "str") and len(node.args) == 1:
        return _chain(node.args[0])
    return reference_chain(node)


def env_name(node: ast.expr | None) -> str | None:
    """X of `os.getenv("X", ...)` / `os.environ.get("X", ...)`, else None."""
    if not isinstance(node, ast.Call) or _call_name(node) not in ("getenv", "get"):
        return None
    func = node.func
    if _call_name(node) == "get" and not (
        isinstance(func, ast.Attribute)
        and reference_chain(func.value) in (["os", "environ"], ["environ"])
    ):
        return None
    return literal_text(node.args[0]) if node.args else None


def _default_of(value: ast.expr | None) -> str | None:
    """The literal default of a binding: "x", Field("x"), Field(default="x"), getenv("K", "x")."""
    text = literal_text(value)
    if text is not None or not isinstance(value, ast.Call):
        return text
    name = _call_name(value)
    keywords = {kw.arg: kw.value for kw in value.keywords if kw.arg}
    if name == "Field":
        return literal_text(keywords.get("default", value.args[0] if value.args else None))
    if name in ("getenv", "get") and len(value.args) >= 2:
        return literal_text(value.args[1])
    return None


def _literals(body: list[ast.stmt], *, module_level: bool, owner: str | None = None) -> list[Facts]:
    found: list[Facts] = []
    for node in body:
        if isinstance(node, ast.Assign):
            targets = [t for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            targets = [node.target]
        else:
            continue
        text = _default_of(node.value)
        if text is None:
            continue
        scope = "module" if module_level else "class"
        env = env_name(node.value)
        found += [
            {
                "name": t.id,
                "value": text,
                "line": node.lineno,
                "scope": scope,
                "class": owner,
                "env": env,
            }
            for t in targets
        ]
    return found


def main(paths: list[str]) -> int:
    """Print {path: facts | {"error": message}} for every path as one JSON document."""
    out: dict[str, Any] = {}
    for path in paths:
        try:
            with open(path, "rb") as handle:
                out[path] = scan_source(handle.read(), path)
        except (SyntaxError, ValueError, OSError) as exc:
            out[path] = {"error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
