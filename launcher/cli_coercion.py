"""Plain option values (str, int, float, bool, Path) coerced without pydantic.

Typer 0.2x coerces every option value through a pydantic `TypeAdapter`; importing pydantic
and building the adapters costs ~150 ms on every command, a warm `up` included, for options
that are only strings, numbers and paths. `install(param)` gives such an option a coercer of
its own that behaves like Typer's (same `BadParameter`, exit 2, `Invalid value for '--port'`),
so pydantic is never imported by the launcher. An option of any other type, one with range,
path or file constraints, or a Typer without this hook keeps Typer's own coercion.
"""

from __future__ import annotations

import os
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def _plain(annotation: Any) -> type | None:
    """str, int, float, bool or Path, also as `X | None`; None for anything else."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) != 1:
            return None
        annotation = args[0]
    if annotation in (str, int, float, bool) or annotation is Path:
        return annotation  # type: ignore[no-any-return]
    return None


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return os.fspath(value) if isinstance(value, os.PathLike) else str(value)


def coerce(kind: type, value: Any) -> Any:
    """`value` (a command-line string, or a default) as `kind`; ValueError with the reason."""
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    text = _text(value).strip() if kind is not str else _text(value)
    if kind is str:
        return text
    if kind is Path:
        return Path(text)
    if kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(f"{text!r} is not a valid boolean")
    try:
        return kind(text)
    except ValueError:
        name = "integer" if kind is int else "number"
        raise ValueError(f"{text!r} is not a valid {name}") from None


def _constrained(info: Any) -> bool:
    """Range, clamp, custom parser or path checks: Typer's own coercion handles those."""
    names = ("min", "max", "clamp", "parser", "click_type")
    if any(getattr(info, name, None) for name in names):
        return True
    path_checks = ("exists", "writable", "resolve_path", "allow_dash")
    return any(getattr(info, name, False) for name in path_checks)


def install(param: Any) -> bool:
    """Give one Typer parameter the plain coercer; False (left to Typer) when it does not fit."""
    try:
        from typer._click.exceptions import BadParameter
        from typer._coercion import RuntimeParam
    except ImportError:  # a Typer without the pydantic coercion: nothing to speed up
        return False
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or not hasattr(param, "_runtime_param") or param.multiple:
        return False
    kind = _plain(descriptor.annotation)
    if kind is None or param.nargs != 1 or _constrained(descriptor.parameter_info):
        return False

    plain: type = kind

    class Plain(RuntimeParam):  # type: ignore[misc]
        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                return coerce(plain, value)
            except ValueError as exc:
                raise BadParameter(str(exc), ctx=ctx, param=param) from None

    param._runtime_param = Plain(descriptor.parameter_info, descriptor.annotation)
    return True


class PlainHelpOption:
    """Mixin for Typer's command classes: the `--help` option they make on demand is coerced
    without pydantic too (it is not among `params` when the command is built)."""

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            install(option)
        return option
