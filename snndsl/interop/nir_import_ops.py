"""NIR node → ``.snn`` op (kind, arguments, tensors): the per-node half of the importer.

Numbers come from the NIR arrays. The ``snndsl`` metadata hint (written by snndsl's own
exporter, parsed by :func:`parse_hint` as literals only) restores just what NIR has no
field for: surrogates, ``detach_reset``, soft reset, PLIF, ``bias=false``, VotingLayer,
and MaxPool2d/AdaptiveAvgPool2d written as AvgPool2d.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..ir import ops
from ._common import HINT, NirError, clean, close, nir_module, nir_span, parse_hint

NO_SNN = {
    "LI": "a leaky integrator without spikes (a read-out); .snn has no non-spiking neuron",
    "CubaLI": "a current-based leaky integrator; .snn has no current-based neurons",
    "CubaLIF": "a current-based LIF neuron; .snn has no current-based neurons",
    "I": "an integrator without a threshold; .snn has no non-spiking neuron",
    "Threshold": "a stateless threshold; .snn has no such layer",
    "Scale": "an element-wise scale; .snn has no such layer",
    "Delay": "a synaptic delay; .snn has no delays",
}
SUPPORTED = {"Affine", "Linear", "Conv1d", "Conv2d", "AvgPool2d", "SumPool2d", "Flatten", "IF", "LIF"}


@dataclass
class _Op:
    kind: str
    values: dict[str, ops.Value]
    positional: int
    tensors: dict[str, np.ndarray]


class OpConverter:
    """Converts single NIR nodes; collects notes about exact rewrites."""

    def __init__(self, dt: float, origin: str | None):
        self.nir = nir_module()
        self.dt, self.origin = float(dt), origin
        self.span = nir_span(origin)
        if not (math.isfinite(self.dt) and self.dt > 0):
            raise NirError(f"dt must be a positive number of seconds, got {dt!r}", self.span)
        self.notes: list[str] = []

    def error(self, msg: str, hint: str | None = None) -> NirError:
        return NirError(msg, self.span, hint)

    def uniform(self, name: str, fld: str, value: Any) -> float:
        a = np.asarray(value, dtype=np.float64).ravel()
        if a.size == 0 or not np.all(np.isfinite(a)):
            raise self.error(f"NIR node '{name}': {fld} is empty or not finite")
        if not np.allclose(a, a[0], rtol=1e-6, atol=1e-12):
            raise self.error(f"NIR node '{name}': {fld} differs between neurons ({a.min():g} .. "
                             f"{a.max():g}); a .snn neuron layer takes one value",
                             "make the parameter uniform, or split the population")
        return clean(a[0])

    def convert(self, name: str, n: Any) -> _Op:
        nir, cls = self.nir, type(n).__name__
        hint = parse_hint((n.metadata or {}).get(HINT)) if isinstance(n.metadata, dict) else None
        hkind, hvals = hint if hint else ("", {})
        if isinstance(n, (nir.Affine, nir.Linear)):
            w = np.asarray(n.weight)
            if w.ndim != 2:
                raise self.error(f"NIR node '{name}' ({cls}): weight of shape {list(w.shape)}; "
                                 "only [out, in] matrices map to Linear")
            if isinstance(n, nir.Linear) and hkind == "VotingLayer":
                v = int(hvals.get("voting_size", 10))  # type: ignore[arg-type]
                if v > 0 and w.shape[1] // v == w.shape[0] and np.allclose(w, _voting(w.shape[1], v)):
                    return _Op("VotingLayer", {"voting_size": v}, 0, {})
            vals: dict[str, ops.Value] = {"in_features": int(w.shape[1]), "out_features": int(w.shape[0])}
            tensors = {"weight": w}
            if isinstance(n, nir.Affine):
                b = np.asarray(n.bias)
                if b.size != w.shape[0]:
                    raise self.error(f"NIR node '{name}' (Affine): bias of shape {list(b.shape)} "
                                     f"for {w.shape[0]} outputs")
                tensors["bias"] = b.reshape(-1)
            else:
                vals["bias"] = False
            return _Op("Linear", vals, 2, tensors)
        if isinstance(n, (nir.Conv1d, nir.Conv2d)):
            w, b = np.asarray(n.weight), np.asarray(n.bias).reshape(-1)
            groups = int(np.asarray(n.groups).ravel()[0])
            kind = "Conv1d" if isinstance(n, nir.Conv1d) else "Conv2d"
            vals = {"in_channels": int(w.shape[1]) * groups, "out_channels": int(w.shape[0]),
                    "kernel_size": _size(w.shape[2:]), "stride": _size(n.stride),
                    "padding": _size(n.padding), "dilation": _size(n.dilation), "groups": groups}
            tensors = {"weight": w, "bias": b}
            if hkind == kind and hvals.get("bias") is False and not np.any(b):
                vals["bias"] = False
                del tensors["bias"]
            return _Op(kind, vals, 3, tensors)
        if isinstance(n, (nir.AvgPool2d, nir.SumPool2d)):
            k, s, p = _size(n.kernel_size), _size(n.stride), _size(n.padding)
            if isinstance(n, nir.SumPool2d):
                return _Op("AvgPool2d", {"kernel_size": k, "stride": None if s == k else s, "padding": p,
                                        "divisor_override": 1}, 1, {})
            if hkind == "MaxPool2d" and _pair(hvals.get("kernel_size")) == _pair(k) \
                    and _pair(hvals.get("stride") or hvals.get("kernel_size")) == _pair(s) \
                    and _pair(hvals.get("padding", 0)) == _pair(p):
                self.notes.append(f"'{name}': MaxPool2d restored from snndsl metadata (other tools "
                                  "see the AvgPool2d it was written as)")
                return _Op("MaxPool2d", dict(hvals), 1, {})
            if hkind == "AdaptiveAvgPool2d" and _pair(k) == _pair(s) and _pair(p) == (0, 0):
                return _Op("AdaptiveAvgPool2d", {"output_size": hvals.get("output_size")}, 1, {})
            return _Op("AvgPool2d", {"kernel_size": k, "stride": None if s == k else s, "padding": p}, 1, {})
        if isinstance(n, nir.Flatten):
            return _Op("Flatten", {"start_dim": int(n.start_dim), "end_dim": int(n.end_dim)}, 0, {})
        if isinstance(n, nir.IF):
            return self.neuron(name, n, hkind, hvals, lif=False)
        if isinstance(n, nir.LIF):
            return self.neuron(name, n, hkind, hvals, lif=True)
        raise self.error(f"NIR node '{name}' ({cls}) has no .snn equivalent: "
                         f"{NO_SNN.get(cls, 'unknown node type')}")

    def neuron(self, name: str, n: Any, hkind: str, hvals: dict, lif: bool) -> _Op:
        thr = self.uniform(name, "v_threshold", n.v_threshold)
        vr = self.uniform(name, "v_reset", n.v_reset)
        r = self.uniform(name, "r", n.r)
        vals: dict[str, ops.Value] = {}
        tensors: dict[str, np.ndarray] = {}
        kind = "LIF" if lif else "IF"
        leak = 0.0
        if not lif:
            c = clean(r * self.dt)
            if c <= 0:
                raise self.error(f"NIR node '{name}' (IF): r * dt must be positive, got {c:g}")
            if not close(c, 1.0):
                thr, vr = clean(thr / c), clean(vr / c)
                self.notes.append(f"'{name}': IF with r*dt = {c:g} imported with v_threshold and "
                                  "v_reset divided by r*dt (the same spikes)")
        else:
            tau = clean(float(np.asarray(self.uniform(name, "tau", n.tau))) / self.dt)
            leak = self.uniform(name, "v_leak", n.v_leak)
            if tau <= 0:
                raise self.error(f"NIR node '{name}' (LIF): tau must be positive")
            if not close(leak, vr):
                raise self.error(f"NIR node '{name}' (LIF): v_leak = {leak:g} differs from v_reset = "
                                 f"{vr:g}; .snn's LIF leaks towards its reset value")
            if r <= 0:
                raise self.error(f"NIR node '{name}' (LIF): r must be positive")
            if close(r, tau) and (not close(r, 1.0) or hvals.get("decay_input") is False):
                decay = False
            else:
                decay = True
                if not close(r, 1.0):
                    thr = clean(vr + (thr - vr) / r)
                    self.notes.append(f"'{name}': LIF with r = {r:g} (neither 1 nor tau/dt) imported "
                                      "with decay_input=true and v_threshold rescaled (the same spikes)")
            vals["decay_input"] = decay
            if hkind == "PLIF" and tau > 1.0:
                kind = "PLIF"  # the time constant itself travels as the weight `w`
                vals["init_tau"] = hvals.get("init_tau", 2.0)
                tensors["w"] = np.asarray(-math.log(tau - 1.0), dtype=np.float32)
            else:
                vals["tau"] = tau
        vals["v_threshold"] = thr
        vals["v_reset"] = vr
        if hkind in ("IF", "LIF", "PLIF"):
            if hvals.get("v_reset", 0.0) is None and vr == 0.0 and (not lif or close(leak, 0.0)):
                vals["v_reset"] = None
            for k in ("surrogate", "detach_reset", "store_v_seq"):
                if k in hvals:
                    vals[k] = hvals[k]
        return _Op(kind, vals, 0, tensors)


def _voting(features: int, v: int) -> np.ndarray:
    w = np.zeros((features // v, features))
    for i in range(features // v):
        w[i, i * v:(i + 1) * v] = 1.0 / v
    return w


def _size(v: Any) -> ops.Value:
    """NIR's int/array/str size as a .snn value: an int when all entries agree."""
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, str):
        return v
    a = np.asarray(v)
    if a.dtype.kind in "SUO":
        return str(a.ravel()[0].decode() if isinstance(a.ravel()[0], bytes) else a.ravel()[0])
    flat = [int(x) for x in a.ravel()]
    if len(set(flat)) == 1:
        return flat[0]
    return tuple(flat)


def _pair(v: Any) -> tuple[int, ...] | None:
    if v is None or isinstance(v, str):
        return None
    flat = [int(x) for x in np.asarray(v).ravel()]
    return (flat[0], flat[0]) if len(flat) == 1 else tuple(flat)
