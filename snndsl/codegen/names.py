"""Legal, unique Python identifiers for generated code, and safe module access.

Every name in generated code comes from here: value names derived from module paths
(``layer1.0.conv1`` → ``layer1_0_conv1``), made unique and kept clear of Python
keywords, builtins and the names the generated module itself uses. Labels that cannot
be attributes (a Python keyword, or a name ``nn.Module`` already has, such as
``forward`` or ``training``) are reached through ``_modules[...]`` so that the module
still works and its ``state_dict`` keys stay the labels.
"""

from __future__ import annotations

import builtins
import keyword
import re

import torch.nn as nn

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: the runtime modules generated code may import (``from snndsl.runtime import ...``), in order
RUNTIME_MODULES = ("functional", "fused", "layer", "neuron", "program", "recurrent", "surrogate")
#: names the generated module binds at module level (its imports) or in ``__init__``,
#: where user modules are built (a ``use`` alias is a module-level name used there):
#: the one list of the generated module's globals
MODULE_GLOBALS = {"torch", "nn", *RUNTIME_MODULES, "Block", "CompiledModule", "self", "step_mode", "carry_state"}
#: names no generated local variable or class may take
RESERVED = MODULE_GLOBALS | {"T", "N", "super", "object", "type"}


def shadows_module_global(name: str) -> bool:
    """Would ``from ... import X as name`` in generated code break it (or not be Python)?"""
    return keyword.iskeyword(name) or name in MODULE_GLOBALS or hasattr(builtins, name) or name.startswith("__")


def _module_attributes() -> set[str]:
    from ..runtime.model import OWN_ATTRIBUTES, Block, CompiledModule

    names: set[str] = set(OWN_ATTRIBUTES)  # also those assigned after __init__ (snn_ir)
    for cls in (nn.Module, CompiledModule, Block, nn.Sequential):
        names |= set(dir(cls))
    probe = CompiledModule()
    names |= set(vars(probe))
    return names


_ATTRS: set[str] | None = None


def is_identifier(name: str) -> bool:
    return bool(_IDENT.match(name)) and not keyword.iskeyword(name)


def safe_attribute(name: str) -> bool:
    """Can ``name`` be written as ``module.name`` and registered as a submodule?"""
    global _ATTRS
    if _ATTRS is None:
        _ATTRS = _module_attributes()
    return is_identifier(name) and name not in _ATTRS and not name.startswith("_")


def module_ref(path: str, root: str = "self") -> str:
    """Python expression for the submodule at ``path`` (``self.layer1[0].conv1``)."""
    out = root
    for seg in path.split("."):
        if seg.isdigit():
            out += f"[{seg}]"
        elif safe_attribute(seg):
            out += f".{seg}"
        else:
            out += f"._modules[{seg!r}]"
    return out


_BUILTINS = frozenset(dir(builtins))


class Namespace:
    """Hands out unique local variable names."""

    def __init__(self, taken: set[str] | None = None):
        self.used: set[str] = set(RESERVED) | set(taken or ())

    def name(self, wanted: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]", "_", wanted) or "v"
        if base[0].isdigit():
            base = "v" + base
        if keyword.iskeyword(base) or base in _BUILTINS or base in RESERVED:
            base += "_"
        name, i = base, 1
        while name in self.used:
            name = f"{base}_{i}"
            i += 1
        self.used.add(name)
        return name
