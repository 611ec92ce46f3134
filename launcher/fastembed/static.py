"""Read how the venv's fastembed describes text models from its source files, without running it.

Parses fastembed's registry, model listings and cache-folder rule with `ast` (no import, no exec)
and returns what `ask.py` would print. Anything unusual answers None, and the caller then asks
the venv's fastembed. Standard library and loguru only.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loguru import logger

ENV_VAR = "FASTEMBED_CACHE_PATH"
REGISTRY = "EMBEDDINGS_REGISTRY"


class Unreadable(Exception):
    """The source is not the shape this reader knows: ask the venv's fastembed instead."""


def read_source_answer(dist_info: Path, names: Sequence[str], cache: Path) -> dict[str, Any] | None:
    """What `ask.py MODEL...` would print for `names` (run with
    FASTEMBED_CACHE_PATH=`cache`), read from the source next to `dist_info`; None if unsure."""
    try:
        return _read(dist_info, names, cache)
    except (Unreadable, OSError, SyntaxError, ValueError, RecursionError) as exc:
        logger.debug(f"fastembed's source in {dist_info.parent} not read ({exc!r}): asking it")
    return None


def _read(dist_info: Path, names: Sequence[str], cache: Path) -> dict[str, Any]:
    site = dist_info.parent
    if len(list(site.glob("fastembed-*.dist-info"))) != 1:
        raise Unreadable("more than one fastembed dist-info")
    package = site / "fastembed"
    version = _version(dist_info, package)
    if not _follows_env(_parse(package / "common" / "utils.py")):
        raise Unreadable(f"define_cache_dir does not visibly read {ENV_VAR}")
    wanted = {name.strip().lower() for name in names if name.strip()}
    found: dict[str, dict[str, Any]] = {}
    for node in _listed_descriptions(package):
        name = _model_name(node)
        if name.lower() not in wanted:
            continue
        described = _describe(node, name)
        if name.lower() in found and found[name.lower()] != described:
            raise Unreadable(f"{name} is listed twice, described differently")
        found[name.lower()] = described
    missing = wanted - set(found)
    if missing:
        raise Unreadable(f"not listed: {', '.join(sorted(missing))}")
    return {"fastembed": version, "cache_dir": str(cache), "models": found, "error": None}


def _parse(path: Path) -> ast.Module:
    if not path.is_file():
        raise Unreadable(f"no {path.name}")
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _version(dist_info: Path, package: Path) -> str:
    """The version `importlib.metadata` reports (fastembed's `__version__`)."""
    from email.parser import HeaderParser

    with (dist_info / "METADATA").open(encoding="utf-8") as metadata:
        version = HeaderParser().parse(metadata).get("Version")
    if not version or dist_info.name != f"fastembed-{version}.dist-info":
        raise Unreadable("METADATA's version does not match the dist-info")
    init = _parse(package / "__init__.py")
    for node in init.body:
        target, value = _assignment(node)
        if target == "__version__" and isinstance(value, ast.Constant) and value.value != version:
            raise Unreadable("__version__ is a literal that differs from METADATA")
    return version


def _follows_env(utils: ast.Module) -> bool:
    """define_cache_dir returns `Path(os.getenv("FASTEMBED_CACHE_PATH", ...))` when given no
    folder: every value its one returned name gets is that or `Path(<its parameter>)`."""
    function = _top_level(utils, ast.FunctionDef, "define_cache_dir")
    if function is None or not function.args.args:
        return False
    parameter = function.args.args[0].arg
    returns = [n for n in ast.walk(function) if isinstance(n, ast.Return)]
    if len(returns) != 1 or not isinstance(returns[0].value, ast.Name):
        return False
    result = returns[0].value.id
    values: list[ast.expr] = []
    for node in ast.walk(function):
        if isinstance(node, (ast.AugAssign, ast.NamedExpr)) and _binds(node.target, result):
            return False
        if isinstance(node, ast.Assign) and any(_binds(t, result) for t in node.targets):
            values.append(node.value)
        if isinstance(node, ast.AnnAssign) and _binds(node.target, result) and node.value:
            values.append(node.value)
    kinds = [_cache_value(value, parameter) for value in values]
    return "env" in kinds and all(kind in ("env", "given") for kind in kinds)


def _binds(target: ast.expr, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(target))


def _cache_value(value: ast.expr, parameter: str) -> str:
    """`env` for Path(os.getenv(ENV_VAR, ...)), `given` for Path(parameter), else `other`."""
    call = _call_to(value, "Path")
    if call is None or len(call.args) != 1 or call.keywords:
        return "other"
    inner = call.args[0]
    if isinstance(inner, ast.Name) and inner.id == parameter:
        return "given"
    if not isinstance(inner, ast.Call) or inner.keywords or not 1 <= len(inner.args) <= 2:
        return "other"
    first = inner.args[0]
    reads_env = ast.unparse(inner.func) in ("os.getenv", "os.environ.get")
    named = isinstance(first, ast.Constant) and first.value == ENV_VAR
    return "env" if reads_env and named else "other"


def _call_to(node: ast.AST, name: str) -> ast.Call | None:
    """`node` when it is a call of the plain name `name`, else None."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name:
        return node
    return None


def _top_level(tree: ast.Module | ast.ClassDef, kind: type, name: str) -> Any:
    for node in tree.body:
        if isinstance(node, kind) and getattr(node, "name", None) == name:
            return node
    return None


def _listed_descriptions(package: Path) -> list[ast.expr]:
    """Every description node TextEmbedding lists, in its registry's order."""
    text = package / "text"
    module = _parse(text / "text_embedding.py")
    _check_not_mutated(module, set())
    cls = _top_level(module, ast.ClassDef, "TextEmbedding")
    if cls is None:
        raise Unreadable("no class TextEmbedding")
    method = _listing_method(cls, package)
    imported = _imported_classes(module)
    listed: list[ast.expr] = []
    for entry in _registry(cls):
        source = imported.get(entry)
        tree = module if source is None and _top_level(module, ast.ClassDef, entry) else None
        if tree is None:
            if source is None:
                raise Unreadable(f"cannot tell where {entry} comes from")
            tree = _parse(text / f"{source}.py")
        listed.extend(_class_listing(tree, entry, method))
    return listed


def _listing_method(cls: ast.ClassDef, package: Path) -> str:
    """The method ask.py calls: `_list_supported_models` where TextEmbedding has it
    (0.6+), else `list_supported_models` (0.5), each registry class's method of the same name."""
    defined = {n.name for n in cls.body if isinstance(n, ast.FunctionDef)}
    if "_list_supported_models" in defined:
        name = "_list_supported_models"
    elif "list_supported_models" in defined:
        for base in ("text/text_embedding_base.py", "common/model_management.py"):
            if "_list_supported_models" in (package / base).read_text(encoding="utf-8"):
                raise Unreadable(f"{base} has a _list_supported_models TextEmbedding inherits")
        name = "list_supported_models"
    else:
        raise Unreadable("TextEmbedding defines no listing method")
    method = _top_level(cls, ast.FunctionDef, name)
    walked = list(ast.walk(method))
    over_registry = any(isinstance(n, ast.Attribute) and n.attr == REGISTRY for n in walked)
    calls_each = any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == name
        for n in walked
    )
    if not (over_registry and calls_each):
        raise Unreadable(f"TextEmbedding.{name} does not list its registry")
    return name


def _registry(cls: ast.ClassDef) -> list[str]:
    for node in cls.body:
        target, value = _assignment(node)
        if target == REGISTRY:
            if not isinstance(value, ast.List):
                raise Unreadable(f"{REGISTRY} is not a list literal")
            if not all(isinstance(e, ast.Name) for e in value.elts):
                raise Unreadable(f"{REGISTRY} holds something else than class names")
            return [e.id for e in value.elts if isinstance(e, ast.Name)]
    raise Unreadable(f"TextEmbedding has no {REGISTRY}")


def _assignment(node: ast.stmt) -> tuple[str | None, ast.expr | None]:
    """(name, value) of `name = value` / `name: T = value`; (None, None) for anything else."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target: ast.expr = node.targets[0]
        value: ast.expr | None = node.value
    elif isinstance(node, ast.AnnAssign):
        target, value = node.target, node.value
    else:
        return None, None
    return (target.id, value) if isinstance(target, ast.Name) else (None, None)


def _imported_classes(module: ast.Module) -> dict[str, str]:
    """{class name: module under fastembed/text} for `from fastembed.text.X import Name`."""
    found: dict[str, str] = {}
    for node in module.body:
        if not isinstance(node, ast.ImportFrom) or not node.module:
            continue
        if node.level == 0 and node.module.startswith("fastembed.text."):
            stem = node.module.removeprefix("fastembed.text.")
        elif node.level == 1:
            stem = node.module
        else:
            continue
        if "." in stem:
            continue
        for alias in node.names:
            if alias.asname is None:
                found[alias.name] = stem
    return found


def _class_listing(tree: ast.Module, name: str, method: str) -> list[ast.expr]:
    """The description nodes `name.method()` returns: `return some_list` (a module-level list
    literal) or `return cls.SOME_LIST` (a list literal in the class body)."""
    cls = _top_level(tree, ast.ClassDef, name)
    if cls is None:
        raise Unreadable(f"no class {name} where it is imported from")
    function = _top_level(cls, ast.FunctionDef, method)
    if function is None:
        raise Unreadable(f"{name} does not define {method} itself")
    body = [n for n in function.body if not _is_docstring(n)]
    if len(body) != 1 or not isinstance(body[0], ast.Return) or body[0].value is None:
        raise Unreadable(f"{name}.{method} does more than return a list")
    returned = body[0].value
    if isinstance(returned, ast.Name):
        scope: ast.Module | ast.ClassDef = tree
        listed = returned.id
    elif (
        isinstance(returned, ast.Attribute)
        and isinstance(returned.value, ast.Name)
        and returned.value.id == "cls"
    ):
        scope, listed = cls, returned.attr
    else:
        raise Unreadable(f"{name}.{method} returns {ast.unparse(returned)}")
    _check_not_mutated(tree, {listed})
    values = [v for n in scope.body for t, v in [_assignment(n)] if t == listed]
    if len(values) != 1 or not isinstance(values[0], ast.List):
        raise Unreadable(f"{listed} is not assigned one list literal")
    return list(values[0].elts)


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)


def _check_not_mutated(tree: ast.Module, names: set[str]) -> None:
    """Nothing runs at import that could change a listing: no statement expression (other than
    a docstring) and no augmented assignment outside function bodies, no `names` rebound."""
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Expr) and not _is_docstring(node):
            raise Unreadable(f"code runs at import: {ast.unparse(node)[:60]}")
        if isinstance(node, (ast.AugAssign, ast.NamedExpr)):
            raise Unreadable(f"code runs at import: {ast.unparse(node)[:60]}")
        if isinstance(node, (ast.Global, ast.Nonlocal)) and names & set(node.names):
            raise Unreadable("a listing is declared global")
        pending.extend(ast.iter_child_nodes(node))


def _model_name(node: ast.expr) -> str:
    fields = _fields(node)
    name = _literal(fields.get("model"), "model")
    if not isinstance(name, str) or not name:
        raise Unreadable("a description's model is not a string literal")
    return name


def _fields(node: ast.expr) -> dict[str, ast.expr]:
    """A description's fields as written: a dict literal's keys, or a
    `...Description(...)` call's keywords (no positional arguments, no `**`)."""
    if isinstance(node, ast.Dict):
        fields: dict[str, ast.expr] = {}
        for key, value in zip(node.keys, node.values, strict=True):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                raise Unreadable("a description dict has a key that is not a string literal")
            fields[key.value] = value
        return fields
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id.endswith("ModelDescription")
        and not node.args
        and all(k.arg is not None for k in node.keywords)
    ):
        return {str(k.arg): k.value for k in node.keywords}
    raise Unreadable("a listed description is neither a dict nor a description call")


def _literal(node: ast.expr | None, what: str, default: Any = None) -> Any:
    if node is None:
        return default
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise Unreadable(f"{what} is not a literal: {ast.unparse(node)[:60]}") from None


def _describe(node: ast.expr, name: str) -> dict[str, Any]:
    """The entry ask.py prints for one description (same fields, same defaults)."""
    fields = _fields(node)
    if isinstance(node, ast.Call):
        # dataclass fields without a default: a call without them would not even import
        for required in ("sources", "model_file", "size_in_GB"):
            if required not in fields:
                raise Unreadable(f"{name}: {required} not given")
        repo = _source_hf(fields["sources"], name)
    else:  # a dict: a key it lacks reads as None, like `_field(item, name)`
        sources = _literal(fields.get("sources"), f"{name}: sources") or {}
        if not isinstance(sources, dict):
            raise Unreadable(f"{name}: sources is not a dict")
        repo = sources.get("hf")
    model_file = _literal(fields.get("model_file"), f"{name}: model_file")
    additional = _literal(fields.get("additional_files"), f"{name}: additional_files") or []
    size = _literal(fields.get("size_in_GB"), f"{name}: size_in_GB") or 0.0
    if not (repo is None or isinstance(repo, str)):
        raise Unreadable(f"{name}: the hf source is not a string")
    if not (model_file is None or isinstance(model_file, str)):
        raise Unreadable(f"{name}: model_file is not a string")
    if not isinstance(additional, (list, tuple)) or not all(isinstance(f, str) for f in additional):
        raise Unreadable(f"{name}: additional_files is not a list of strings")
    if isinstance(size, bool) or not isinstance(size, (int, float)):
        raise Unreadable(f"{name}: size_in_GB is not a number")
    return {
        "model": name,
        "repo": repo,
        "model_file": model_file,
        "additional_files": list(additional),
        "size_in_gb": size,
    }


def _source_hf(node: ast.expr, name: str) -> str | None:
    """`hf` of a `ModelSource(hf=..., url=...)` call (None when not given: its default)."""
    call = _call_to(node, "ModelSource")
    if call is None or call.args:
        raise Unreadable(f"{name}: sources is not a ModelSource(...) call")
    keywords = {k.arg: k.value for k in call.keywords}
    if None in keywords:
        raise Unreadable(f"{name}: ModelSource(**...)")
    hf: str | None = _literal(keywords.get("hf"), f"{name}: sources.hf")
    return hf
