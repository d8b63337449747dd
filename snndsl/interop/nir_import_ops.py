"""NIR node → ``.snn`` op (kind, arguments, tensors): the per-node half of the importer.

Numbers come from the NIR arrays. The ``snndsl`` metadata hint (written by snndsl's own
exporter, parsed by :func:`parse_hint` as literals only) restores just what NIR has no
field for: surrogates, ``detach_reset``, soft reset, PLIF, ``bias=false``, VotingLayer,
and MaxPool2d/AdaptiveAvgPool2d written as AvgPool2d.

NIR's continuous-time neurons are discretised by one forward-Euler step of ``dt``, as
Norse 1.1.0 and snnTorch read them (``docs/interop.md``)::

    LI       tau dv/dt = v_leak - v + r I             ->  LI(tau = tau/dt) after Scale(r)
    CubaLIF  tau_syn dI/dt = -I + w_in S               ->  CubaLIF(c_decay = 1 - dt/tau_syn,
             tau_mem dv/dt = v_leak - v + r I                  v_decay = 1 - dt/tau_mem)
                                                           after Scale((dt/tau_syn) w_in (dt/tau_mem) r)
    Delay    y(t) = x(t - delay)                       ->  Delay(steps = delay/dt)

SpikingJelly's ``CUBALIFNode`` keeps the current scaled by ``(dt/tau_mem) r``, so its
membrane potential is Norse's exactly (the same threshold); the one input gain is a
``Scale`` stage, written only where it is not 1 in float32.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..ir import ops
from ._common import HINT, NirError, clean, close, nir_module, nir_span, parse_hint

NO_SNN = {
    "CubaLI": "a current-based leaky integrator without spikes; .snn has no such neuron",
    "I": "an integrator without a threshold or leak; .snn has no such neuron",
    "Threshold": "a stateless threshold; .snn has no such layer",
}
SUPPORTED = {"Affine", "Linear", "Conv1d", "Conv2d", "AvgPool2d", "SumPool2d", "Flatten", "IF", "LIF",
             "LI", "CubaLIF", "Delay", "Scale"}
#: the names in the hint of the "cannot import" error
SUPPORTED_TEXT = ("Input, Output, Affine, Linear, Conv1d, Conv2d, AvgPool2d, SumPool2d, Flatten, "
                  "Scale, Delay, IF, LIF, LI and CubaLIF nodes")
EULER_NOTE = ("time constants discretised by one forward-Euler step of dt (as Norse 1.1.0 and "
              "snnTorch read NIR): decay = 1 - dt/tau")


@dataclass
class _Op:
    kind: str
    values: dict[str, ops.Value]
    positional: int
    tensors: dict[str, np.ndarray]
    #: a constant input gain written as ``Scale(gain)`` before the op (``None``: no gain)
    gain: float | None = None
    #: keyword arguments written even where they equal the default
    keep: tuple[str, ...] = ()


#: bounds on the numbers of a NIR node (sizes, strides, dimensions)
MAX_DIM = 2**31 - 1
MAX_ELEMENTS = 2**40
MAX_RANK = 16
_F32_MAX = float(np.finfo(np.float32).max)


class FieldError(ValueError):
    """A NIR field whose value does not have the type NIR declares for it."""


def real_array(value: Any, fld: str) -> np.ndarray:
    """``value`` as an array of finite real numbers (float32 range), else :class:`FieldError`."""
    if isinstance(value, np.ndarray):
        a = value
    elif isinstance(value, (bool, int, float, np.number, np.bool_, list, tuple)):
        try:
            a = np.asarray(value)
        except (ValueError, TypeError, OverflowError):
            raise FieldError(f"{fld} is not an array of numbers") from None
    else:
        raise FieldError(f"{fld} is a {type(value).__name__}, not an array of numbers")
    if a.dtype.kind == "c":
        raise FieldError(f"{fld} holds complex numbers; NIR parameters are real")
    if a.dtype.kind not in "fiub":
        raise FieldError(f"{fld} has dtype {a.dtype}, not numbers")
    if a.ndim > MAX_RANK:
        raise FieldError(f"{fld} has {a.ndim} dimensions")
    if a.size:
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise FieldError(f"{fld} holds NaN or infinite values")
        if a.dtype.itemsize > 4 or a.dtype.kind in "iu":
            if float(np.max(np.abs(a))) > _F32_MAX:
                raise FieldError(f"{fld} holds values beyond the float32 range")
    return a


def int_tuple(value: Any, fld: str, lo: int, lengths: tuple[int, ...] = (1, 2)) -> tuple[int, ...]:
    """``value`` (an int or a short array of ints, each ``>= lo``) as a tuple of ints."""
    if isinstance(value, (bool, np.bool_)):
        raise FieldError(f"{fld} is a boolean, not an integer")
    a = real_array(value, fld)
    if a.ndim > 1 or a.size not in lengths:
        raise FieldError(f"{fld} must be {' or '.join(map(str, lengths))} integer(s), "
                         f"got shape {list(a.shape)}")
    out = []
    for x in a.ravel().tolist():
        if isinstance(x, bool) or float(x) != int(x):
            raise FieldError(f"{fld} must hold integers, got {x!r}")
        x = int(x)
        if x < lo or x > MAX_DIM:
            raise FieldError(f"{fld} must be {'at least ' + str(lo) if x < lo else 'at most ' + str(MAX_DIM)}"
                             f", got {x}")
        out.append(x)
    return tuple(out)


def int_value(value: Any, fld: str, lo: int = -MAX_DIM) -> int:
    """``value`` as one integer (a scalar or a one-element array) ``>= lo``."""
    return int_tuple(value, fld, lo, (1,))[0]


def shape_value(value: Any, fld: str) -> tuple[int, ...]:
    """A NIR shape: 1 to ``MAX_RANK`` positive integers with a bounded product."""
    shape = int_tuple(value, fld, 1, tuple(range(1, MAX_RANK + 1)))
    if math.prod(shape) > MAX_ELEMENTS:
        raise FieldError(f"{fld} {list(shape)} has more than {MAX_ELEMENTS:,} elements")
    return shape


def text_value(value: Any) -> str | None:
    """A string field (``str``, ``bytes`` or a 0-d/1-element string array), else ``None``."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "SUO" and value.size == 1:
        value = value.ravel()[0]
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, str):
        return str(value)
    return None


def pad_value(value: Any, fld: str, lengths: tuple[int, ...]) -> ops.Value:
    """A convolution padding: ``'same'``/``'valid'`` or non-negative integers."""
    text = text_value(value)
    if text is not None:
        if text not in ("same", "valid"):
            raise FieldError(f"{fld} must be 'same', 'valid' or integers, got {text[:40]!r}")
        return text
    return _collapse(int_tuple(value, fld, 0, lengths))


def _collapse(t: tuple[int, ...]) -> ops.Value:
    return t[0] if len(set(t)) == 1 else t


class OpConverter:
    """Converts single NIR nodes; collects notes about exact rewrites."""

    def __init__(self, dt: float, origin: str | None, soft_reset: bool = False):
        self.nir = nir_module()
        self.soft_reset = bool(soft_reset)
        self.origin = origin
        self.span = nir_span(origin)
        try:
            self.dt = float(dt)
        except (TypeError, ValueError, OverflowError):
            self.dt = math.nan
        if not (math.isfinite(self.dt) and self.dt > 0):
            raise NirError(f"dt must be a positive number of seconds, got {dt!r}", self.span)
        self.notes: list[str] = []

    def error(self, msg: str, hint: str | None = None) -> NirError:
        return NirError(msg, self.span, hint)

    def field(self, name: str, n: Any, fld: str, check: Any, *args: Any) -> Any:
        """Field ``fld`` of node ``name`` checked by ``check`` (one of the validators above)."""
        if not hasattr(n, fld):
            raise self.error(f"NIR node '{name}' ({type(n).__name__}) has no field '{fld}'")
        try:
            return check(getattr(n, fld), *args) if args else check(getattr(n, fld))
        except FieldError as e:
            raise self.error(f"NIR node '{name}' ({type(n).__name__}): {e}") from None

    def array(self, name: str, n: Any, fld: str) -> np.ndarray:
        return self.field(name, n, fld, real_array, fld)

    def uniform(self, name: str, fld: str, value: Any) -> float:
        try:
            a = real_array(value, fld).astype(np.float64).ravel()
        except FieldError as e:
            raise self.error(f"NIR node '{name}': {e}") from None
        if a.size == 0:
            raise self.error(f"NIR node '{name}': {fld} is empty or not finite")
        if not np.allclose(a, a[0], rtol=1e-6, atol=1e-12):
            raise self.error(f"NIR node '{name}': {fld} differs between neurons ({a.min():g} .. "
                             f"{a.max():g}); a .snn neuron layer takes one value",
                             "make the parameter uniform, or split the population")
        return clean(a[0])

    def convert(self, name: str, n: Any) -> _Op:
        nir, cls = self.nir, type(n).__name__
        meta = getattr(n, "metadata", None)  # older nir versions have no metadata on some nodes
        hint = parse_hint(meta.get(HINT)) if isinstance(meta, dict) else None
        hkind, hvals = hint if hint else ("", {})
        if isinstance(n, (nir.Affine, nir.Linear)):
            w = self.array(name, n, "weight")
            if w.ndim != 2 or 0 in w.shape:
                raise self.error(f"NIR node '{name}' ({cls}): weight of shape {list(w.shape)}; "
                                 "only non-empty [out, in] matrices map to Linear")
            if isinstance(n, nir.Linear) and hkind == "VotingLayer":
                v = ops.as_int(hvals.get("voting_size", 10))
                if v > 0 and w.shape[1] // v == w.shape[0] and np.allclose(w, _voting(w.shape[1], v)):
                    return _Op("VotingLayer", {"voting_size": v}, 0, {})
            vals: dict[str, ops.Value] = {"in_features": int(w.shape[1]), "out_features": int(w.shape[0])}
            tensors = {"weight": w}
            if isinstance(n, nir.Affine):
                b = self.array(name, n, "bias")
                if b.size != w.shape[0]:
                    raise self.error(f"NIR node '{name}' (Affine): bias of shape {list(b.shape)} "
                                     f"for {w.shape[0]} outputs")
                tensors["bias"] = b.reshape(-1)
            else:
                vals["bias"] = False
            return _Op("Linear", vals, 2, tensors)
        if isinstance(n, (nir.Conv1d, nir.Conv2d)):
            kind, dims = ("Conv1d", 1) if isinstance(n, nir.Conv1d) else ("Conv2d", 2)
            w, b = self.array(name, n, "weight"), self.array(name, n, "bias").reshape(-1)
            if w.ndim != dims + 2 or 0 in w.shape:
                raise self.error(f"NIR node '{name}' ({kind}): weight of shape {list(w.shape)}; "
                                 f"expected a non-empty [out, in / groups, {', '.join('k' * dims)}] array")
            lengths = (1, dims)
            groups = self.field(name, n, "groups", int_value, "groups", 1)
            stride = self.field(name, n, "stride", int_tuple, "stride", 1, lengths)
            dilation = self.field(name, n, "dilation", int_tuple, "dilation", 1, lengths)
            padding = self.field(name, n, "padding", pad_value, "padding", lengths)
            if w.shape[0] % groups:
                raise self.error(f"NIR node '{name}' ({kind}): {w.shape[0]} output channels do not "
                                 f"split into {groups} groups")
            if b.size != w.shape[0]:
                raise self.error(f"NIR node '{name}' ({kind}): bias of shape {list(b.shape)} "
                                 f"for {w.shape[0]} output channels")
            vals = {"in_channels": int(w.shape[1]) * groups, "out_channels": int(w.shape[0]),
                    "kernel_size": _size(w.shape[2:]), "stride": _collapse(stride),
                    "padding": padding, "dilation": _collapse(dilation), "groups": groups}
            tensors = {"weight": w, "bias": b}
            if hkind == kind and hvals.get("bias") is False and not np.any(b):
                vals["bias"] = False
                del tensors["bias"]
            return _Op(kind, vals, 3, tensors)
        if isinstance(n, (nir.AvgPool2d, nir.SumPool2d)):
            k = _collapse(self.field(name, n, "kernel_size", int_tuple, "kernel_size", 1))
            s = _collapse(self.field(name, n, "stride", int_tuple, "stride", 1))
            p = _collapse(self.field(name, n, "padding", int_tuple, "padding", 0))
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
            start = self.field(name, n, "start_dim", int_value, "start_dim", -MAX_RANK - 1)
            end = self.field(name, n, "end_dim", int_value, "end_dim", -MAX_RANK - 1)
            if max(start, end) > MAX_RANK:
                raise self.error(f"NIR node '{name}' (Flatten): dimensions {start}..{end} out of range")
            return _Op("Flatten", {"start_dim": start, "end_dim": end}, 0, {})
        if isinstance(n, nir.IF):
            return self.neuron(name, n, hkind, hvals, lif=False)
        if isinstance(n, nir.LIF):
            return self.neuron(name, n, hkind, hvals, lif=True)
        if isinstance(n, nir.CubaLIF):
            return self.cuba_lif(name, n, hkind, hvals)
        if isinstance(n, nir.LI):
            return self.leaky_integrator(name, n)
        if isinstance(n, nir.Delay):
            return self.delay(name, n)
        if isinstance(n, nir.Scale):
            return _Op("Scale", {"factor": self.uniform(name, "scale", self.field(name, n, "scale", _any))},
                       1, {})
        raise self.error(f"NIR node '{name}' ({_printable(cls)}) has no .snn equivalent: "
                         f"{NO_SNN.get(cls, 'unknown node type')}")

    def neuron(self, name: str, n: Any, hkind: str, hvals: dict, lif: bool) -> _Op:
        thr = self.uniform(name, "v_threshold", self.field(name, n, "v_threshold", _any))
        vr = self.uniform(name, "v_reset", self.field(name, n, "v_reset", _any))
        r = self.uniform(name, "r", self.field(name, n, "r", _any))
        vals: dict[str, ops.Value] = {}
        tensors: dict[str, np.ndarray] = {}
        kind = "LIF" if lif else "IF"
        leak = 0.0
        written_tau = 1.0  # vals["tau"] where it is set
        if not lif:
            c = clean(r * self.dt)
            if c <= 0:
                raise self.error(f"NIR node '{name}' (IF): r * dt must be positive, got {c:g}")
            if not close(c, 1.0):
                thr, vr = clean(thr / c), clean(vr / c)
                self.notes.append(f"'{name}': IF with r*dt = {c:g} imported with v_threshold and "
                                  "v_reset divided by r*dt (the same spikes)")
                if c < QUIET_IF:
                    self.note_once(quiet_if_note(self.dt, r))
        else:
            tau = clean(self.uniform(name, "tau", self.field(name, n, "tau", _any)) / self.dt)
            leak = self.uniform(name, "v_leak", self.field(name, n, "v_leak", _any))
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
                vals["tau"] = written_tau = tau
        if not all(math.isfinite(x) for x in (thr, vr, written_tau)):
            raise self.error(f"NIR node '{name}' ({type(n).__name__}): its parameters do not give "
                             f"finite .snn values at dt = {self.dt:g} s")
        vals["v_threshold"] = thr
        vals["v_reset"] = self.reset(name, vr)
        if hkind in ("IF", "LIF", "PLIF"):
            if hvals.get("v_reset", 0.0) is None and vr == 0.0 and (not lif or close(leak, 0.0)):
                vals["v_reset"] = None
            for k in ("surrogate", "detach_reset", "store_v_seq"):
                if k in hvals:
                    vals[k] = hvals[k]
        return _Op(kind, vals, 0, tensors)

    def reset(self, name: str, vr: float) -> float | None:
        """``v_reset``, or ``None`` (reset by subtraction) when the import asks for it."""
        if not self.soft_reset:
            return vr
        if not close(vr, 0.0):
            self.notes.append(f"'{name}': v_reset = {vr:g} ignored: reset by subtraction was asked for")
        return None

    def cuba_lif(self, name: str, n: Any, hkind: str, hvals: dict) -> _Op:
        """NIR CubaLIF -> ``CubaLIF`` (SpikingJelly's CUBALIFNode), one Euler step per ``dt``.

        NIR: ``tau_syn dI/dt = -I + w_in S``, ``tau_mem dv/dt = v_leak - v + r I``, spike when
        ``v > v_threshold``, then ``v = v_reset``. Euler (Norse 1.1.0, snnTorch):
        ``I' = I + a (w_in S - I)``, ``v' = v + b (r I' - v)`` with ``a = dt/tau_syn``,
        ``b = dt/tau_mem``. CUBALIFNode: ``c' = c_decay c + x``, ``v' = v_decay v + c'``; with
        ``c = b r I`` and ``x = a w_in b r S`` both give the same ``v``.
        """
        get = lambda fld: self.uniform(name, fld, self.field(name, n, fld, _any))  # noqa: E731
        tau_syn, tau_mem, r, w_in = get("tau_syn"), get("tau_mem"), get("r"), get("w_in")
        leak, thr, vr = get("v_leak"), get("v_threshold"), get("v_reset")
        if tau_syn <= 0 or tau_mem <= 0:
            raise self.error(f"NIR node '{name}' (CubaLIF): tau_syn and tau_mem must be positive")
        if not close(leak, 0.0):
            raise self.error(f"NIR node '{name}' (CubaLIF): v_leak = {leak:g}; .snn's CubaLIF "
                             "(SpikingJelly's CUBALIFNode) leaks towards 0",
                             "shift v_threshold and v_reset by -v_leak and set v_leak to 0")
        a, b = self.dt / tau_syn, self.dt / tau_mem
        c_decay, v_decay = f32(1.0 - a), f32(1.0 - b)
        if not (math.isfinite(c_decay) and math.isfinite(v_decay)):
            raise self.error(f"NIR node '{name}' (CubaLIF): its time constants do not give finite "
                             f"decays at dt = {self.dt:g} s")
        vals: dict[str, ops.Value] = {"c_decay": c_decay, "v_decay": v_decay,
                                      "v_threshold": thr, "v_reset": self.reset(name, vr)}
        if a > 1 or b > 1:
            self.notes.append(f"'{name}': dt is larger than a time constant of this CubaLIF, so a "
                              "decay is negative (the Euler step overshoots, as in Norse)")
        if hkind == "CubaLIF":
            if hvals.get("v_reset", 0.0) is None and vr == 0.0:
                vals["v_reset"] = None
            if "surrogate" in hvals:
                vals["surrogate"] = hvals["surrogate"]
        self.note_once(EULER_NOTE)
        return _Op("CubaLIF", vals, 0, {}, gain=_gain(a * w_in * b * r), keep=("c_decay", "v_decay"))

    def leaky_integrator(self, name: str, n: Any) -> _Op:
        """NIR LI -> ``LI`` (SpikingJelly's NonSpikingLIFNode, ``v' = v + (x - v) / tau``):
        Euler gives ``v' = v + dt/tau (v_leak - v + r I)``, so ``tau -> tau/dt``, ``x = r I``."""
        get = lambda fld: self.uniform(name, fld, self.field(name, n, fld, _any))  # noqa: E731
        tau, r, leak = clean(get("tau") / self.dt), get("r"), get("v_leak")
        if not close(leak, 0.0):
            raise self.error(f"NIR node '{name}' (LI): v_leak = {leak:g}; .snn's LI "
                             "(SpikingJelly's NonSpikingLIFNode) leaks towards 0")
        if not (math.isfinite(tau) and tau > 1.0):
            raise self.error(f"NIR node '{name}' (LI): tau/dt = {tau:g} steps; .snn's LI needs "
                             "more than one step", "import with a smaller --dt")
        self.note_once(EULER_NOTE)
        return _Op("LI", {"tau": tau}, 0, {}, gain=_gain(r))

    def delay(self, name: str, n: Any) -> _Op:
        """NIR Delay (``y(t) = x(t - delay)``, seconds) -> ``Delay(steps)`` with ``steps = delay/dt``."""
        d = self.uniform(name, "delay", self.field(name, n, "delay", _any))
        steps = d / self.dt
        if not (math.isfinite(steps) and steps >= 0):
            raise self.error(f"NIR node '{name}' (Delay): delay = {d:g} s is not a delay")
        k = round(steps)
        if not math.isclose(steps, k, rel_tol=1e-6, abs_tol=1e-6):
            raise self.error(f"NIR node '{name}' (Delay): delay = {d:g} s is {steps:g} steps of "
                             f"dt = {self.dt:g} s; .snn's Delay takes whole steps",
                             "import with a dt that divides the delay")
        if k > MAX_DELAY:
            raise self.error(f"NIR node '{name}' (Delay): {k:,} steps of dt = {self.dt:g} s "
                             f"(at most {MAX_DELAY:,})", "import with a larger --dt")
        return _Op("Delay", {"steps": k}, 1, {})

    def note_once(self, line: str) -> None:
        if line not in self.notes:
            self.notes.append(line)


#: below this r*dt an IF integrates so little per step that it hardly fires
QUIET_IF = 1e-2


def quiet_if_note(dt: float, r: float) -> str:
    return (f"at dt = {dt:g} s an IF with r = {r:g} adds only r*dt = {clean(r * dt):g} of its input per "
            f"step, so its threshold is {clean(1 / (r * dt)):g} times higher and this network will hardly "
            "spike; Sinabs, Norse and snnTorch read such IF nodes once per step: import with "
            f"dt = {clean(1 / r):g} (--dt {clean(1 / r):g}) for their spikes")


#: the longest Delay imported, in steps (each step is a copy of the delayed value)
MAX_DELAY = 100_000


def f32(x: float) -> float:
    """``x`` as the shortest decimal of its float32 value: the model computes in float32,
    and ``1 - 1e-4 / 2.2222222e-4`` is written ``0.55``, not ``0.550000011849``."""
    return float(str(np.float32(x)))


def _gain(g: float) -> float | None:
    """The input gain to write as ``Scale``, or ``None`` where it is 1 in float32."""
    g = f32(g)
    return None if g == 1.0 else g


def _any(v: Any) -> Any:
    return v


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text[:80])


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
