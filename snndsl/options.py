"""The Python API's option values, checked before the compiler sees them.

``compile_source``, ``emit_python``, ``lower`` and their siblings take names, paths and
collections from callers. Each is reduced here to plain built-in values (a ``str``
subclass such as ``numpy.str_`` to its ``str``, a ``pathlib`` path to its string) or
refused with a ``TypeError`` or :class:`UsageError` that names the argument. Nothing a
caller passes has a method of its own called (no ``__repr__``, ``__eq__``, ``__hash__``
or ``__format__`` of a user class runs): values are tested with ``isinstance`` and
copied through the built-in types' own methods.

The values of ``params`` are normalised by the front end
(:func:`snndsl.frontend.declarations.plain_value`), where each has a declaration to
point at; this module only checks that ``params`` is a mapping with string keys.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterable, Mapping

from .diagnostics import UsageError

__all__ = ["plain_str", "filename_option", "name_option", "names_option", "params_option", "bool_option", "choice_option"]


def plain_str(value: object, what: str) -> str:
    """``value`` as an exact ``str`` (a subclass is copied by ``str``'s own slicing)."""
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str.__getitem__(value, slice(None))
    raise TypeError(f"{what} must be a string, not {type(value).__name__}")


def filename_option(value: object) -> str:
    """``filename=``: a string or a ``pathlib`` path."""
    if isinstance(value, pathlib.PurePath):
        return os.fspath(value)
    return plain_str(value, "filename")


def name_option(value: object, what: str) -> str | None:
    """An optional name (``model=``)."""
    return None if value is None else plain_str(value, what)


def names_option(value: object, what: str) -> tuple[str, ...]:
    """A collection of names (``allow_imports=``, ``disable=``); one bare string is refused
    (it would be read as its characters)."""
    if value is None:
        return ()
    if isinstance(value, (str, bytes)):
        shown = plain_str(value, what)[:80] if isinstance(value, str) else "bytes"
        raise TypeError(f"{what} must be a collection of names, not one string: write [{shown!r}]")
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise TypeError(f"{what} must be a list, tuple or set of names, not {type(value).__name__}")
    return tuple(plain_str(v, f"each name in {what}") for v in value)


def params_option(value: object) -> dict[str, object] | None:
    """``params=``: None or a mapping with string keys (values are checked later, at their
    declarations)."""
    from .frontend.declarations import CliParams

    if value is None or type(value) is CliParams:  # the command line's own (string values)
        return value
    if not isinstance(value, Mapping):
        raise TypeError(f"params must be a mapping of parameter names to values, not {type(value).__name__}")
    items = list(dict.items(value)) if isinstance(value, dict) else [(k, value[k]) for k in list(value.keys())]
    out: dict[str, object] = {}
    for key, item in items:
        if not isinstance(key, str):
            raise TypeError(f"params keys must be parameter names (strings), not {type(key).__name__}")
        out[plain_str(key, "a params key")] = item
    return out


def bool_option(value: object, what: str) -> bool:
    """``True`` or ``False`` (a numpy bool too); anything else is refused."""
    if isinstance(value, bool):
        return bool.__bool__(value) if type(value) is not bool else value
    if type(value).__name__ in ("bool", "bool_") and type(value).__module__ == "numpy":
        return value.item() is True  # type: ignore[attr-defined]
    raise TypeError(f"{what} must be True or False, not {type(value).__name__}")


def choice_option(value: object, what: str, choices: Iterable[str]) -> str:
    """One of ``choices`` (compared as exact strings)."""
    allowed = tuple(choices)
    if not isinstance(value, str):
        raise TypeError(f"{what} must be one of {', '.join(map(repr, allowed))}, not {type(value).__name__}")
    text = plain_str(value, what)
    if text not in allowed:
        raise UsageError(f"{what} must be one of {', '.join(map(repr, allowed))}, got {text[:80]!r}")
    return text
