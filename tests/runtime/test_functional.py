"""Forward wrappers, containers and network helpers, against SpikingJelly 2.0.0 where
the contract says "as SpikingJelly", and against the contract where it says otherwise
(``set_step_mode`` all or nothing, ``reset_net`` without a cache, keyword ``step_mode``)."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from snndsl.runtime import base, functional, layer, neuron


def _pair(make):
    torch.manual_seed(0)
    a = make()
    torch.manual_seed(0)
    return a, make()


def test_multi_step_forward_matches_spikingjelly(sj):
    x = torch.rand(4, 2, 3, 5, 5)
    ours, ref = _pair(lambda: (nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()))
    assert torch.equal(
        functional.multi_step_forward(x, ours), sj.functional.multi_step_forward(x, ref)
    )
    node, sj_node = neuron.IFNode(), sj.neuron.IFNode()
    assert torch.equal(
        functional.multi_step_forward(x, node), sj.functional.multi_step_forward(x, sj_node)
    )
    assert torch.equal(node.v, sj_node.v)


def test_seq_to_ann_forward_matches_spikingjelly(sj):
    x = torch.rand(4, 2, 3, 6, 6)
    conv = nn.Conv2d(3, 4, 3)
    assert torch.equal(
        functional.seq_to_ann_forward(x, conv), sj.functional.seq_to_ann_forward(x, conv)
    )
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    y, idx = functional.seq_to_ann_forward(x, pool)
    assert idx.shape == y.shape == (4, 2, 3, 3, 3)
    z = functional.seq_to_ann_forward((y, idx), unpool)
    assert torch.equal(z, sj.functional.seq_to_ann_forward((y, idx), unpool))
    with pytest.raises(ValueError, match="share the same"):
        functional.seq_to_ann_forward((y, idx[:, :1]), unpool)


def test_chunk_multi_step_forward_equals_one_call():
    x = torch.rand(10, 3, 4)
    a, b = neuron.LIFNode(step_mode="m"), neuron.LIFNode(step_mode="m")
    assert torch.equal(functional.chunk_multi_step_forward(3, x, a), b(x))
    assert torch.equal(a.v, b.v)


@pytest.mark.parametrize("name", ["MultiStepContainer", "SeqToANNContainer"])
def test_containers_match_spikingjelly(sj, name):
    x = torch.rand(4, 2, 3, 6, 6)
    ours_mods, ref_mods = _pair(lambda: (nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)))
    ours, ref = getattr(layer, name)(*ours_mods), getattr(sj.layer, name)(*ref_mods)
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert torch.equal(ours(x), ref(x))
    assert ours.step_mode == "m" and ours.supported_step_mode() == ("m",)


@pytest.mark.parametrize("stateful", [True, False])
@pytest.mark.parametrize("mode", "sm")
def test_step_mode_container_matches_spikingjelly(sj, stateful, mode):
    x = torch.rand(4, 2, 3, 6, 6)
    if stateful:
        ours = layer.StepModeContainer(True, neuron.IFNode(), step_mode=mode)
        ref = sj.layer.StepModeContainer(True, mode, sj.neuron.IFNode())
    else:
        a, b = _pair(lambda: nn.Conv2d(3, 4, 3))
        ours = layer.StepModeContainer(False, a, step_mode=mode)
        ref = sj.layer.StepModeContainer(False, mode, b)
    inputs = list(x) if mode == "s" else [x]
    for xi in inputs:
        assert torch.equal(ours(xi), ref(xi))


def test_step_mode_container_takes_modules_positionally():
    c = layer.StepModeContainer(False, nn.Linear(2, 3), nn.ReLU())
    assert len(c) == 2 and c.step_mode == "s" and isinstance(c[0], nn.Linear)


@pytest.mark.parametrize(
    "make",
    [
        lambda m: layer.MultiStepContainer(m),
        lambda m: layer.SeqToANNContainer(nn.Identity(), m),
        lambda m: layer.StepModeContainer(True, m),
    ],
)
def test_containers_refuse_multi_step_children(make):
    with pytest.raises(
        ValueError, match=r"^IFNode\.step_mode must be 's' inside this container\.$"
    ):
        make(neuron.IFNode(step_mode="m"))


def test_set_step_mode_skips_container_children():
    net = nn.Sequential(
        layer.Linear(3, 3),
        layer.StepModeContainer(True, neuron.IFNode()),
        layer.MultiStepContainer(neuron.LIFNode()),
        neuron.LIFNode(),
    )
    functional.set_step_mode(net, "m")
    assert [net[0].step_mode, net[1].step_mode, net[3].step_mode] == ["m", "m", "m"]
    assert net[1][0].step_mode == "s" and net[2][0].step_mode == "s"


def test_set_step_mode_is_all_or_nothing():
    net = nn.Sequential(
        layer.Linear(3, 3, step_mode="m"),
        nn.Sequential(neuron.LIFNode(step_mode="m"), layer.SeqToANNContainer(nn.Linear(3, 3))),
        neuron.IFNode(step_mode="m"),
    )
    with pytest.raises(ValueError, match=r"net\.1\.1 \(SeqToANNContainer\).*\('m',\)"):
        functional.set_step_mode(net, "s")
    assert [m.step_mode for m in (net[0], net[1][0], net[2])] == ["m", "m", "m"]
    with pytest.raises(ValueError, match="step_mode can only be"):
        net[0].step_mode = "x"


def test_reset_net_has_no_cache():
    net = nn.Sequential(neuron.IFNode())
    net(torch.ones(2) * 0.5)
    functional.reset_net(net)
    net.append(neuron.IFNode())  # added after the first reset_net
    net(torch.ones(2) * 0.5)
    functional.reset_net(net)
    assert net[0].v == 0.0 and net[1].v == 0.0


def test_reset_net_and_detach_net_reach_nested_memories():
    net = nn.Sequential(layer.MultiStepContainer(neuron.LIFNode()), layer.Dropout(0.2))
    net(torch.rand(3, 2, 4, requires_grad=True))
    functional.detach_net(net)
    assert not net[0][0].v.requires_grad
    functional.reset_net(net)
    assert net[0][0].v == 0.0 and net[1].mask is None


def test_memory_module_basics():
    class Counter(base.MemoryModule):
        def __init__(self):
            super().__init__()
            self.register_memory("n", 0)

        def single_step_forward(self, x):
            self.n += 1
            return x

    c = Counter()
    c.step_mode = "m"
    c(torch.zeros(5, 2))  # the default multi-step loops over single steps
    assert c.n == 5 and dict(c.named_memories()) == {"n": 5}
    c.reset()
    assert c.n == 0 and "n" in dir(c)
    with pytest.raises(ValueError, match="already an attribute"):
        c.register_memory("n", 1)
