"""No state leaks from one sequence into the next (issue #17): stateful `use` modules
are reset with the neurons, and a mode switch starts a new sequence."""

from __future__ import annotations

import pytest
import torch

import snndsl
from snndsl.diagnostics import SnnTypeError
from snndsl.runtime import functional

USE = """
use tests.compiler.usermods.Accumulator as Acc stateful
model U() {
    input x: [3]
    return x -> lin: Linear(3, 3) -> acc: Acc(0.5) -> sn: LIF()
}
"""


def _net():
    torch.manual_seed(0)
    return snndsl.compile_source(USE, "u.snn", allow_imports={"tests"})


def test_a_stateful_user_module_is_reset_at_every_call():
    net = _net()
    assert "user_state = ('acc',)" in net.snn_source
    x = torch.rand(4, 2, 3)
    with torch.no_grad():
        first, again = net(x), net(x)
    assert torch.equal(first, again)
    assert net(torch.rand(4, 5, 3)).shape == (4, 5, 3)  # a new batch size: no stale state


def test_two_training_steps_with_a_stateful_user_module():
    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(2):  # the second backward used to meet the first step's graph
        opt.zero_grad()
        net(torch.rand(4, 2, 3)).sum().backward()
        opt.step()


def test_reset_net_and_carry_state_cover_user_modules():
    net = _net()
    net.carry_state = True
    with torch.no_grad():
        net(torch.rand(4, 2, 3))
        assert net.acc.total is not None
        functional.reset_net(net)
        assert net.acc.total is None


def test_a_stateful_user_module_without_reset_is_a_located_error():
    text = "use tests.compiler.usermods.NoReset as Keep stateful\nmodel U() {\n    input x: [3]\n" \
           "    return x -> k: Keep() -> sn: IF()\n}\n"
    with pytest.raises(SnnTypeError, match="has no reset") as info:
        snndsl.compile_source(text, "u.snn", allow_imports={"tests"})
    assert (info.value.span.line, info.value.span.column) == (1, 1)


@pytest.mark.parametrize("name", ["csnn.snn", "plif_net.snn"])
def test_a_mode_switch_starts_a_new_sequence(name):
    from ..conftest import EXAMPLES

    torch.manual_seed(0)
    net = snndsl.compile_file(EXAMPLES / name, params={"channels": 8} if name == "csnn.snn" else None).eval()
    shape = net.snn_ir.input_nodes()[0].op.shape
    x = torch.rand(3, 2, *shape) * 2
    with torch.no_grad():
        ym = net(x)
        net.carry_state = True  # 'm' state is left behind, then the mode switches
        net(x)
        functional.set_step_mode(net, "s")
        ys = torch.stack([net(x[t]) for t in range(3)])
    assert torch.equal(ym, ys)
