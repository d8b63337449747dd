"""The eight surrogates against SpikingJelly 2.0.0: forward (spiking and not), gradients,
the plain-tensor derivative the fused neurons use, and the readable ``repr``."""

from __future__ import annotations

import pytest
import torch

from snndsl.runtime import surrogate

from .conftest import SURROGATE_PARAMS, SURROGATES

DEFAULTS = {
    "Sigmoid": "Sigmoid(alpha=4.0)",
    "ATan": "ATan(alpha=2.0)",
    "PiecewiseQuadratic": "PiecewiseQuadratic(alpha=1.0)",
    "PiecewiseExp": "PiecewiseExp(alpha=1.0)",
    "SoftSign": "SoftSign(alpha=2.0)",
    "Erf": "Erf(alpha=2.0)",
    "SuperSpike": "SuperSpike(alpha=1.0)",
    "PiecewiseLeakyReLU": "PiecewiseLeakyReLU(w=1.0, c=0.01)",
}


def _x() -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(257, generator=gen) * 1.5
    # zero, the edges of the piecewise surrogates' windows, and far tails
    return torch.cat([x, torch.tensor([0.0, -0.0, 1.0, -1.0, 0.7, -0.7, 1.25, 8.0, -8.0])])


@pytest.mark.parametrize("name", SURROGATES)
@pytest.mark.parametrize("spiking", [True, False])
def test_forward_and_gradient_match_spikingjelly(sj, name, spiking):
    if name == "SuperSpike" and not spiking:
        pytest.skip("SpikingJelly defines no SuperSpike primitive (see the next test)")
    params = SURROGATE_PARAMS[name]
    ours = getattr(surrogate, name)(spiking=spiking, **params)
    ref = getattr(sj.surrogate, name)(spiking=spiking, **params)
    x1, x2 = _x().requires_grad_(), _x().requires_grad_()
    y1, y2 = ours(x1), ref(x2)
    assert torch.equal(y1, y2)
    g = torch.linspace(-1, 2, y1.numel())
    (g1,) = torch.autograd.grad(y1, x1, g)
    (g2,) = torch.autograd.grad(y2, x2, g)
    torch.testing.assert_close(g1, g2, atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", SURROGATES)
def test_derivative_is_the_primitives_slope(name):
    """``derivative`` is ``d primitive / dx``: checked by finite differences in float64,
    away from the kinks of the piecewise surrogates (as SpikingJelly's own test does)."""
    params = SURROGATE_PARAMS[name]
    sg = getattr(surrogate, name)(**params)
    x = torch.tensor([-0.75, -0.25, 0.25, 0.75, 1.9, -2.3], dtype=torch.float64)
    eps = 1e-6
    numeric = (sg.primitive(x + eps) - sg.primitive(x - eps)) / (2 * eps)
    torch.testing.assert_close(sg.derivative(x), numeric, atol=1e-4, rtol=0)


@pytest.mark.parametrize("name", SURROGATES)
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_in_place_derivatives_match_derivative(name, sign):
    """``derivative_into``/``mul_derivative_`` (the fused CPU neurons' hooks) compute
    ``g'(sign * x + shift)`` up to the scale they return."""
    params = SURROGATE_PARAMS[name]
    sg = getattr(surrogate, name)(**params)
    h = _x() + 1.0
    expected = sg.derivative(sign * h - 1.0)
    out = torch.empty_like(h)
    scale = sg.derivative_into(h, out, shift=-1.0, sign=sign)
    torch.testing.assert_close(out * scale, expected, atol=1e-6, rtol=1e-6)
    grad, scratch = torch.linspace(-2, 2, h.numel()), torch.empty_like(h)
    ref = grad * expected
    scale = sg.mul_derivative_(h, grad, scratch, shift=-1.0, sign=sign)
    torch.testing.assert_close(grad * scale, ref, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("name", SURROGATES)
def test_spiking_forward_is_heaviside_at_zero(name):
    sg = getattr(surrogate, name)()
    x = torch.tensor([-1e-7, -0.0, 0.0, 1e-7])
    assert torch.equal(sg(x), torch.tensor([0.0, 1.0, 1.0, 1.0]))


@pytest.mark.parametrize("name", SURROGATES)
def test_repr_reads_as_a_constructor_call(name):
    sg = getattr(surrogate, name)()
    assert repr(sg) == DEFAULTS[name]
    assert eval(repr(sg), vars(surrogate)).params == sg.params  # noqa: S307 - test of repr
    sg.set_spiking_mode(False)
    assert repr(sg).endswith(", spiking=False)")


def test_invalid_shape_parameters_are_refused():
    with pytest.raises(ValueError, match="alpha > 0"):
        surrogate.SoftSign(alpha=0.0)
    with pytest.raises(ValueError, match="w > 0"):
        surrogate.PiecewiseLeakyReLU(w=-1.0)
