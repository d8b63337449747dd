r"""Surrogate spike functions: a Heaviside step forward, a smooth derivative backward.

With ``spiking=True`` (the default) a surrogate maps ``x = H - v_threshold`` to
``heaviside(x) = (x >= 0)`` in the forward pass and back-propagates ``g'(x)``, the
derivative of a smooth primitive ``g``. With ``spiking=False`` it *is* ``g`` (forward and
backward). Gradient formulas are SpikingJelly 2.0.0's.

Each surrogate also exposes its derivative as a plain tensor function,
:meth:`SurrogateFunctionBase.derivative`, which the fused multi-step neurons call in their
hand-written backward (``grad_h = grad_s * g'(h - v_th)``) instead of running autograd per
step, and :meth:`SurrogateFunctionBase.derivative_into`, an in-place variant that lets the
fused CPU path avoid allocations.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "heaviside",
    "SurrogateFunctionBase",
    "Sigmoid",
    "ATan",
    "PiecewiseQuadratic",
    "PiecewiseExp",
    "SoftSign",
    "Erf",
    "SuperSpike",
    "PiecewiseLeakyReLU",
    "Rect",
    "KERNEL_IDS",
    "kernel_args",
]


def _checked(owner: str, name: str, value: float, low: float = 0.0, inclusive: bool = False) -> float:
    """``value`` as a float if it is finite and ``> low`` (``>= low`` when ``inclusive``),
    else a ValueError: the same bounds as the compiler's (``snndsl.ir.registry.SURROGATES``)."""
    v = float(value)
    if not math.isfinite(v) or (v < low if inclusive else v <= low):
        bound = f"{'>=' if inclusive else '>'} {low:g}"
        raise ValueError(f"{owner} needs a finite {name} {bound}, got {value!r}")
    return v


def heaviside(x: torch.Tensor) -> torch.Tensor:
    """``(x >= 0)`` in the dtype of ``x``: a neuron fires when ``H`` equals ``v_th``."""
    return (x >= 0).to(x)


class _SpikeFunction(torch.autograd.Function):
    """Heaviside forward, ``grad * surrogate.derivative(x)`` backward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, surrogate: SurrogateFunctionBase) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return heaviside(x)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, None]:
        (x,) = ctx.saved_tensors
        return grad_output * ctx.surrogate.derivative(x), None


class SurrogateFunctionBase(nn.Module):
    """Base class: holds the shape parameters (``alpha``, ...) and the ``spiking`` flag.

    Every ``alpha`` must be finite and > 0 (0 gives no gradient, a negative one turns its
    sign); a subclass checks its parameters with :func:`_checked`.
    """

    def __init__(self, spiking: bool = True, **params: float) -> None:
        super().__init__()
        self.spiking = spiking
        self._param_names = tuple(params)
        for name, value in params.items():
            setattr(self, name, float(value))

    @property
    def params(self) -> dict[str, float]:
        """The shape parameters by name, in constructor order."""
        return {name: getattr(self, name) for name in self._param_names}

    def set_spiking_mode(self, spiking: bool) -> None:
        self.spiking = spiking

    def extra_repr(self) -> str:
        parts = [f"{k}={v!r}" for k, v in self.params.items()]
        if not self.spiking:
            parts.append("spiking=False")
        return ", ".join(parts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.spiking:
            return _SpikeFunction.apply(x, self)
        return self.primitive(x)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        """The smooth function ``g`` whose derivative is the surrogate gradient."""
        raise NotImplementedError

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        """``g'(x)`` as a plain tensor function (no autograd)."""
        raise NotImplementedError

    def derivative_into(
        self, x: torch.Tensor, out: torch.Tensor, shift: float = 0.0, sign: float = 1.0
    ) -> float:
        """Write ``g'(sign * x + shift) / c`` into ``out`` and return the scale ``c``.

        Returning the scale separately lets the caller fold it into a later multiply-add;
        subclasses override this with in-place op sequences.
        """
        torch.add(x.new_tensor(shift), x, alpha=sign, out=out)
        out.copy_(self.derivative(out))
        return 1.0

    def mul_derivative_(
        self,
        x: torch.Tensor,
        grad: torch.Tensor,
        scratch: torch.Tensor,
        shift: float = 0.0,
        sign: float = 1.0,
    ) -> float:
        """``grad *= g'(sign * x + shift) / c`` in place (``scratch``: work space); returns ``c``."""
        c = self.derivative_into(x, scratch, shift, sign)
        grad.mul_(scratch)
        return c


class Sigmoid(SurrogateFunctionBase):
    r"""``g(x) = sigmoid(alpha x)``, ``g'(x) = alpha sigmoid(alpha x) (1 - sigmoid(alpha x))``."""

    alpha: float

    def __init__(self, alpha: float = 4.0, spiking: bool = True) -> None:
        super().__init__(spiking, alpha=_checked(type(self).__name__, "alpha", alpha))

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.alpha).sigmoid()

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        sgax = (x * self.alpha).sigmoid()
        return (1.0 - sgax) * sgax * self.alpha

    def derivative_into(
        self, x: torch.Tensor, out: torch.Tensor, shift: float = 0.0, sign: float = 1.0
    ) -> float:
        a = self.alpha
        torch.add(x.new_tensor(a * shift), x, alpha=a * sign, out=out)
        out.sigmoid_()
        out.addcmul_(out, out, value=-1.0)  # s (1 - s)
        return a

    def mul_derivative_(
        self,
        x: torch.Tensor,
        grad: torch.Tensor,
        scratch: torch.Tensor,
        shift: float = 0.0,
        sign: float = 1.0,
    ) -> float:
        a = self.alpha
        torch.add(x.new_tensor(a * shift), x, alpha=a * sign, out=scratch)
        scratch.sigmoid_()
        torch.ops.aten.sigmoid_backward.grad_input(grad, scratch, grad_input=grad)
        return a


class ATan(SurrogateFunctionBase):
    r"""``g(x) = atan(pi/2 alpha x) / pi + 1/2``, ``g'(x) = (alpha/2) / (1 + (pi/2 alpha x)^2)``."""

    alpha: float

    def __init__(self, alpha: float = 2.0, spiking: bool = True) -> None:
        super().__init__(spiking, alpha=_checked(type(self).__name__, "alpha", alpha))

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        return (math.pi / 2 * self.alpha * x).atan() / math.pi + 0.5

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        a = self.alpha / 2
        ax = math.pi * a * x
        return a / (1 + ax * ax)

    def derivative_into(
        self, x: torch.Tensor, out: torch.Tensor, shift: float = 0.0, sign: float = 1.0
    ) -> float:
        c = math.pi / 2 * self.alpha
        torch.add(x.new_tensor(c * shift), x, alpha=c * sign, out=out)
        torch.addcmul(x.new_tensor(1.0), out, out, out=out)
        out.reciprocal_()
        return self.alpha / 2

    def mul_derivative_(
        self,
        x: torch.Tensor,
        grad: torch.Tensor,
        scratch: torch.Tensor,
        shift: float = 0.0,
        sign: float = 1.0,
    ) -> float:
        c = math.pi / 2 * self.alpha
        torch.add(x.new_tensor(c * shift), x, alpha=c * sign, out=scratch)
        torch.addcmul(x.new_tensor(1.0), scratch, scratch, out=scratch)
        grad.div_(scratch)
        return self.alpha / 2


class PiecewiseQuadratic(SurrogateFunctionBase):
    r"""``g'(x) = max(0, alpha - alpha^2 |x|)``: zero when ``|x| > 1/alpha``."""

    alpha: float

    def __init__(self, alpha: float = 1.0, spiking: bool = True) -> None:
        super().__init__(spiking, alpha=_checked(type(self).__name__, "alpha", alpha))

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        a = self.alpha
        mask0 = (x > (1.0 / a)).to(x)
        mask1 = (x.abs() <= (1.0 / a)).to(x)
        return mask0 + mask1 * (-(a**2) / 2 * x.square() * x.sign() + a * x + 0.5)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        a = self.alpha
        x_abs = x.abs()
        return (-(a**2) * x_abs + a).masked_fill_(x_abs > (1 / a), 0)


class PiecewiseExp(SurrogateFunctionBase):
    r"""``g'(x) = (alpha/2) exp(-alpha |x|)``."""

    alpha: float

    def __init__(self, alpha: float = 1.0, spiking: bool = True) -> None:
        super().__init__(spiking, alpha=_checked(type(self).__name__, "alpha", alpha))

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        mask_nonnegative = heaviside(x)
        mask_sign = mask_nonnegative * 2.0 - 1.0
        exp_x = (mask_sign * x * -self.alpha).exp() / 2.0
        return mask_nonnegative - exp_x * mask_sign

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        a = self.alpha
        return a / 2 * (-a * x.abs()).exp()


class SoftSign(SurrogateFunctionBase):
    r"""``g(x) = (softsign(alpha x) + 1) / 2``, ``g'(x) = 1 / (2 alpha (1/alpha + |x|)^2)``."""

    alpha: float

    def __init__(self, alpha: float = 2.0, spiking: bool = True) -> None:
        super().__init__(spiking, alpha=_checked(type(self).__name__, "alpha", alpha))

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        return (F.softsign(x * self.alpha) + 1.0) / 2.0

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        a = self.alpha
        return 1.0 / (2 * a * (1 / a + x.abs()).pow(2))


class Erf(SurrogateFunctionBase):
    r"""``g(x) = erfc(-alpha x) / 2``, ``g'(x) = (alpha / sqrt(pi)) exp(-alpha^2 x^2)``."""

    alpha: float

    def __init__(self, alpha: float = 2.0, spiking: bool = True) -> None:
        super().__init__(spiking, alpha=_checked(type(self).__name__, "alpha", alpha))

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        return torch.erfc(-self.alpha * x) / 2.0

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        a = self.alpha
        return (-(x * a).pow(2)).exp() * (a / math.sqrt(math.pi))


class SuperSpike(SurrogateFunctionBase):
    r"""``g'(x) = alpha / (1 + |x|)^2`` (Zenke & Ganguli, 2018).

    SpikingJelly defines no primitive; ours is ``g(x) = 1/2 + alpha x / (1 + |x|)``, the
    antiderivative of ``g'`` centred like the others at ``g(0) = 1/2``.
    """

    alpha: float

    def __init__(self, alpha: float = 1.0, spiking: bool = True) -> None:
        super().__init__(spiking, alpha=_checked(type(self).__name__, "alpha", alpha))

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 + self.alpha * x / (1.0 + x.abs())

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return self.alpha / torch.pow(torch.abs(x) + 1.0, 2)


class PiecewiseLeakyReLU(SurrogateFunctionBase):
    r"""``g'(x) = 1 / (2w)`` if ``|x| < w`` else ``c``."""

    w: float
    c: float

    def __init__(self, w: float = 1.0, c: float = 0.01, spiking: bool = True) -> None:
        name = type(self).__name__
        super().__init__(spiking, w=_checked(name, "w", w), c=_checked(name, "c", c, inclusive=True))

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        w, c = self.w, self.c
        mask0 = (x < -w).to(x)
        mask1 = (x > w).to(x)
        mask2 = torch.ones_like(x.data) - mask0 - mask1
        if c == 0:
            return mask2 * (x / (2 * w) + 1 / 2) + mask1
        cw = c * w
        return mask0 * (c * x + cw) + mask1 * (c * x + (-cw + 1)) + mask2 * (x / (2 * w) + 1 / 2)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        inside = x.abs() < self.w
        return torch.where(inside, 1 / (2 * self.w), self.c).to(x)


class Rect(SurrogateFunctionBase):
    r"""``g(x) = clamp(alpha x + 1/2, 0, 1)``, ``g'(x) = alpha`` if ``|x| < 1/(2 alpha)`` else 0.

    A rectangular window of width ``1/alpha`` and height ``alpha`` (area 1); the default
    surrogate of the prelude's ``CubaLIF`` (SpikingJelly's ``CUBALIFNode``). The kernels
    generated from neuron programs (C and Triton) implement it, as they do the eight above.
    """

    alpha: float

    def __init__(self, alpha: float = 1.0, spiking: bool = True) -> None:
        super().__init__(spiking, alpha=_checked(type(self).__name__, "alpha", alpha))

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(self.alpha * x + 0.5, min=0.0, max=1.0)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return self.alpha * (x.abs() < 0.5 / self.alpha).to(x)

    def derivative_into(
        self, x: torch.Tensor, out: torch.Tensor, shift: float = 0.0, sign: float = 1.0
    ) -> float:
        torch.add(x.new_tensor(shift), x, alpha=sign, out=out)
        out.abs_().lt_(0.5 / self.alpha)  # the window as 1.0/0.0; its height is the scale
        return self.alpha


#: the surrogates the generated neuron kernels implement, by their number there (the C
#: of ``kernels/csrc/surrogates.h``, Triton's ``kernels.program_triton.surrogate_grad``);
#: exact classes only (a subclass may change the derivative)
KERNEL_IDS: dict[type, int] = {
    Sigmoid: 0,
    ATan: 1,
    PiecewiseQuadratic: 2,
    PiecewiseExp: 3,
    SoftSign: 4,
    Erf: 5,
    SuperSpike: 6,
    PiecewiseLeakyReLU: 7,
    Rect: 8,
}


def kernel_args(fn: SurrogateFunctionBase | None) -> tuple[int, float, float]:
    """``(number, a, b)``: the kernels' surrogate number and its first two parameters
    (``alpha``; ``w`` and ``c`` of ``PiecewiseLeakyReLU``), for the surrogate ``fn``;
    ``(0, 1.0, 0.0)`` for one they do not implement or none (a program without
    ``spike``, which reads none)."""
    if fn is None or type(fn) not in KERNEL_IDS:
        return 0, 1.0, 0.0
    params = list(fn.params.values())
    a = float(params[0]) if params else 0.0
    b = float(params[1]) if len(params) > 1 else 0.0
    return KERNEL_IDS[type(fn)], a, b
