"""Values that reach the compiler through the Python API rather than a `.snn` file
(issue #17): they are data, normalised to plain literals or refused, never code."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import snndsl
from snndsl.diagnostics import SnnPermissionError, SnnTypeError, UsageError

TEXT = """
model M(f: float = 1.0, n: int = 4, on: bool = true, s: str = "x") {
    input x: [4]
    return x -> fc: Linear(4, n) -> sn: LIF(tau=f + 1.0, detach_reset=on)
}
"""
CANARY = []


class EvilFloat(float):
    def __repr__(self):
        CANARY.append("repr")
        return "__import__('os').system('echo pwned')"


class EvilInt(int):
    def __repr__(self):
        CANARY.append("repr")
        return "__import__('os')"

    def __int__(self):
        return 99


class EvilStr(str):
    def __repr__(self):
        CANARY.append("repr")
        return "__import__('os')"


@pytest.mark.parametrize("params, field, want", [
    ({"f": EvilFloat(3.0)}, "tau=4.0", 3.0),
    ({"n": EvilInt(3)}, "nn.Linear(4, 3)", 3),
    ({"s": EvilStr("abc")}, None, "abc"),
    ({"f": np.float64(3.0)}, "tau=4.0", 3.0),
    ({"f": np.float32(0.5)}, "tau=1.5", 0.5),
    ({"n": np.int64(3)}, "nn.Linear(4, 3)", 3),
    ({"on": np.bool_(False)}, None, False),
])
def test_api_values_become_plain_literals(params, field, want):
    source = snndsl.emit_python(TEXT, params=params)
    ir = snndsl.compiler.lower(TEXT, params=params)
    (name,) = params
    assert type(ir.params[name]) is type(want) and ir.params[name] == want
    assert "__import__" not in source and not CANARY
    if field:
        assert field in source
    net = snndsl.compile_source(TEXT, params=params)
    assert net(torch.rand(2, 1, 4)).shape[:2] == (2, 1)


@pytest.mark.parametrize("params, match", [
    ({"n": object()}, "must be int, got a object"),
    ({"n": 10**30}, "integer of 31 digits"),
    ({"f": 10**400}, "integer of 401 digits"),
    ({"f": float("inf")}, "not a finite number"),
    ({"f": [1.0]}, "must be float, got a list"),
])
def test_api_values_that_are_not_literals_are_refused(params, match):
    with pytest.raises(SnnTypeError, match=match):
        snndsl.compile_source(TEXT, params=params)


@pytest.mark.parametrize("value, match", [("1" + "0" * 30, "31 digits"), ("1" + "0" * 400, "401 digits"),
                                          ("1e400", "not a finite number")])
def test_cli_set_values_out_of_range_are_located_errors(tmp_path, capsys, value, match):
    from snndsl.cli import main

    path = tmp_path / "m.snn"
    path.write_text(TEXT)
    name = "f" if "e" in value or len(value) > 100 else "n"
    assert main(["check", str(path), "--set", f"{name}={value}"]) == 1
    err = capsys.readouterr().err
    assert match in err and "m.snn:2:" in err and "Traceback" not in err


USE = """
use tests.compiler.usermods.Double as D stateless
model U() {
    input x: [3]
    return x -> d: D() -> sn: IF()
}
"""


def test_load_yaml_gates_imports_like_a_snn_file():
    ir = snndsl.compiler.lower(USE, "u.snn", allow_imports={"tests"})
    text = snndsl.dump_yaml(ir)
    evil = text.replace("path: tests.compiler.usermods.Double", "path: os.system")
    with pytest.raises(SnnPermissionError, match="imports Python code") as info:
        snndsl.load_yaml(evil)
    assert info.value.span.line == 5
    with pytest.raises(SnnPermissionError):
        snndsl.load_yaml(text)  # even a harmless import needs the permission
    again = snndsl.load_yaml(text, allow_imports={"tests"})
    assert snndsl.dump_yaml(again) == text


@pytest.mark.parametrize("text", ["", "[1, 2]", "model: M\n", "{model: M, source: x, passes: [], params: 3}",
                                  "!!python/object:os.system {}"])
def test_load_yaml_of_something_else_is_a_usage_error(text):
    with pytest.raises(UsageError, match="not an snndsl IR dump"):
        snndsl.load_yaml(text)


class Hostile(str):
    """A str whose own methods record that they ran."""

    def __repr__(self):
        CANARY.append("repr")
        return "pwned"

    def __format__(self, spec):
        CANARY.append("format")
        return "pwned"


@pytest.mark.parametrize("kwargs, error, match", [
    ({"params": {3: 1.0}}, TypeError, "params keys must be parameter names"),
    ({"params": {None: 1.0}}, TypeError, "params keys must be parameter names"),
    ({"params": [("f", 1.0)]}, TypeError, "params must be a mapping"),
    ({"disable": "fuse-stateless"}, TypeError, "not one string"),
    ({"disable": ["nope"]}, UsageError, "cannot disable"),
    ({"disable": ["fuse-stateless"]}, UsageError, "cannot disable"),
    ({"disable": [3]}, TypeError, "must be a string"),
    ({"allow_imports": "os"}, TypeError, "not one string"),
    ({"optimize": "O3"}, UsageError, "must be one of 'inference'"),
    ({"optimize": 3}, TypeError, "optimize"),
    ({"model": 3}, TypeError, "model must be a string"),
    ({"filename": b"f.snn"}, TypeError, "filename must be a string"),
    ({"step_mode": "x"}, UsageError, "step_mode must be one of"),
    ({"step_mode": Hostile("m")}, None, None),
    ({"optimize": Hostile("inference")}, None, None),
    ({"params": {Hostile("n"): 3}}, None, None),
    ({"model": Hostile("M")}, None, None),
    ({"carry_state": "yes"}, TypeError, "carry_state must be True or False"),
    ({"carry_state": np.bool_(True)}, None, None),
])
def test_api_options_are_checked_without_running_their_methods(kwargs, error, match):
    CANARY.clear()
    if error is None:
        net = snndsl.compile_source(TEXT, **kwargs)
        assert isinstance(net, torch.nn.Module)
    else:
        with pytest.raises(error, match=match):
            snndsl.compile_source(TEXT, **kwargs)
    assert CANARY == []
